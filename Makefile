# The two commands of README.md. Each sets up what it needs on a fresh machine first.
.PHONY: app test bench examples

app:
	@venv=$$(bash scripts/setup.sh) && "$$venv/bin/python" app.py $(ARGS)

test:
	@venv=$$(bash scripts/setup.sh) && "$$venv/bin/python" -m pytest -q tests $(ARGS)

bench:
	@venv=$$(bash scripts/setup.sh) && "$$venv/bin/python" bench/extraction.py $(ARGS)

examples:
	@venv=$$(bash scripts/setup.sh) && "$$venv/bin/python" assets/make_examples.py
