# Management API fuzzing prerequisites (tests/tests/api_schemathesis.rs).
#
#   make api-fuzz-deps   schemathesis and openapi-spec-validator, pinned, into a
#                        Python venv at .cache/venv
#
# Installed once, idempotently (a stamp file records the pinned version); the path of
# the `schemathesis` binary is exported to every recipe so `make test` passes it on.

API_VENV := $(CURDIR)/.cache/venv
SCHEMATHESIS_VERSION ?= 4.32.5
OPENAPI_SPEC_VALIDATOR_VERSION ?= 0.9.0
SCHEMATHESIS_STAMP := $(API_VENV)/.schemathesis-$(SCHEMATHESIS_VERSION)-osv-$(OPENAPI_SPEC_VALIDATOR_VERSION).stamp

export SCHEMATHESIS := $(API_VENV)/bin/schemathesis

.PHONY: api-fuzz-deps

## api-fuzz-deps: schemathesis $(SCHEMATHESIS_VERSION) (OpenAPI fuzzing) in .cache/venv
api-fuzz-deps: $(SCHEMATHESIS_STAMP)

$(SCHEMATHESIS_STAMP):
	@echo "installing schemathesis $(SCHEMATHESIS_VERSION) into $(API_VENV)"
	@command -v python3 >/dev/null || bash mk/apt-install.sh python3 python3-venv
	# Debian's own python3 needs python3-venv for `-m venv`; install it when missing.
	test -x "$(API_VENV)/bin/python" || python3 -m venv "$(API_VENV)" || { rm -rf "$(API_VENV)"; \
	  bash mk/apt-install.sh python3-venv && python3 -m venv "$(API_VENV)"; }
	"$(API_VENV)/bin/python" -m pip install --quiet --disable-pip-version-check \
	  "schemathesis==$(SCHEMATHESIS_VERSION)" \
	  "openapi-spec-validator==$(OPENAPI_SPEC_VALIDATOR_VERSION)"
	"$(SCHEMATHESIS)" --version
	@touch $@
