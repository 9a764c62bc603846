# Two commands on a fresh machine:  make demo   and   make test
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO   := output/demo
MODELS := $(DEMO)/models
DB     := $(DEMO)/audio_predictions.db
RUN    := $(BIN)/python

.PHONY: install demo test browser evaluate evaluate-quick peer-env clean

install: $(STAMP)

$(STAMP): requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --pre -r requirements.txt
	touch $(STAMP)

demo: $(STAMP)
	@echo "== 1/10 synthesise the demo folder"
	$(RUN) synth_audio.py $(DEMO)/audio --n 16 --seconds 4
	@echo "== 2/10 retrain valence/arousal models from the shipped feature tables"
	$(RUN) train_emo_model.py --features data/out_Valence.csv data/out_Arousal.csv --out-dir $(DEMO) --models-dir $(MODELS) -j 2
	@echo "== 3/10 predict the demo folder"
	$(RUN) predict_new_audio.py $(DEMO)/audio --out-dir $(DEMO) --models-dir $(MODELS) -j 2 --no-cache
	@echo "== 4/10 log predictions and the training corpus into the database"
	$(RUN) log_predictions_to_db.py --in-dir $(DEMO) --models-dir $(MODELS) --db $(DB) --corpus data/out_Valence.csv --labels data/out_labels.csv
	@echo "== 5/10 train descriptor models"
	$(RUN) train_and_visualize_all_descriptors.py --db $(DB) --models-dir $(MODELS) --out-dir $(DEMO) -j 2
	@echo "== 6/10 batch descriptor prediction"
	$(RUN) predict_batch_descriptor.py $(DEMO)/audio --models-dir $(MODELS) --db $(DB) --log-db --out $(DEMO)/batch_descriptor_predictions.csv -j 2 --no-cache
	@echo "== 7/10 describe one file"
	$(RUN) predict_descriptor_value.py $(DEMO)/audio/05_siren.wav --models-dir $(MODELS) --descriptor soothing alarming calm chaotic calmness tension --no-cache
	@echo "== 8/10 figures"
	$(RUN) va_visualize_descriptors.py --db $(DB) --out-dir $(DEMO)/figures
	@echo "== 9/10 interactive map (open it in a browser; click a point to play it)"
	$(RUN) va_map.py --db $(DB) --out $(DEMO)/va_map.html
	@echo "== 10/10 recommend sounds that fit a reference (here: the chime), and its emotion over time"
	$(RUN) recommend.py $(DEMO)/audio/03_chime.flac --db $(DB) --models-dir $(MODELS) --limit 3
	$(RUN) predict_new_audio.py $(DEMO)/audio/05_siren.wav $(DEMO)/audio/03_chime.flac --segments 3 1 --out-dir $(DEMO)/segments --models-dir $(MODELS) --no-cache -q
	@echo
	@echo "Demo outputs:"
	@echo "  audio             $(DEMO)/audio/"
	@echo "  VA models + CV    $(MODELS)/trained_*_model.joblib, $(DEMO)/cv_report.csv, $(DEMO)/cv_predicted_vs_true.png"
	@echo "  predictions       $(DEMO)/new_audio_predicted_va.csv, $(DEMO)/new_audio_descriptor_scores.csv"
	@echo "  database          $(DB)"
	@echo "  descriptor models $(MODELS)/descriptors/, $(DEMO)/descriptor_cv_summary.csv, $(DEMO)/descriptor_models_grid.png"
	@echo "  batch predictions $(DEMO)/batch_descriptor_predictions.csv"
	@echo "  figures           $(DEMO)/figures/"
	@echo "  interactive map   $(DEMO)/va_map.html"
	@echo "  emotion over time $(DEMO)/segments/new_audio_segments.csv, $(DEMO)/segments/timelines/"
	@echo "  query it          $(RUN) query_library.py --db $(DB) --near 0.5 -0.5 --limit 5"

test: $(STAMP) browser
	$(RUN) -m pytest

# The map's browser test drives Debian's Chromium. Installing it needs root and apt;
# where that fails, the test is skipped with the reason.
browser:
	-@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; } \
	  >/dev/null 2>&1 || echo "note: could not install chromium; the browser test will be skipped"

# Needs ../shared/data (the corpora). Regenerates docs/RESULTS.md.
evaluate: $(STAMP)
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

clean:
	rm -rf output .pytest_cache
