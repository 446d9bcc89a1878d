# mcast: build, install, test, demo.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
GO      ?= go
LDFLAGS := -s -w -X github.com/mcasttools/mcast/internal/buildinfo.Version=$(VERSION)

.PHONY: build install test test-unit demo lint clean up logs down docker-check

build: ## static binary at bin/mcast, with sender and receiver beside it
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/mcast ./cmd/mcast
	ln -sf mcast bin/sender
	ln -sf mcast bin/receiver

install: build ## install mcast, sender and receiver into $(BINDIR)
	install -d $(DESTDIR)$(BINDIR)
	install -m 0755 bin/mcast $(DESTDIR)$(BINDIR)/mcast
	ln -sf mcast $(DESTDIR)$(BINDIR)/sender
	ln -sf mcast $(DESTDIR)$(BINDIR)/receiver

test: ## every test: unit, and integration in network namespaces (needs root)
	bash scripts/test.sh

test-unit: ## the tests that need no root
	$(GO) test ./internal/...

demo: build ## two NICs of one host, in the twonic lab, with default sysctls and with accept_local=1
	bash scripts/demo.sh

lint: ## gofmt, go vet, staticcheck
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean:
	rm -rf bin

# The local try with Docker: a sender and two receivers as containers
# (docker-compose.yml, Dockerfile). DOCKER_HOST
# picks the daemon, as for docker itself. Debian's docker-compose (v1) is
# preferred; the compose plugin (docker compose) is used where it is missing.
COMPOSE ?= $(shell command -v docker-compose >/dev/null 2>&1 && echo docker-compose || echo docker compose)
export COMPOSE_PROJECT_NAME ?= mcast

# docker-check stops make with one line when Docker cannot be used.
docker-check:
	$(eval docker_problem := $(shell bash scripts/docker-check.sh $(COMPOSE)))
	$(if $(docker_problem),$(error $(docker_problem)))

up: docker-check build ## build the image; start receiver01, receiver02, then the sender once both joined
	bash scripts/docker-up.sh $(COMPOSE)

logs: docker-check ## follow the containers' output with timestamps
	$(COMPOSE) logs --follow --timestamps

down: docker-check ## stop and remove the containers and their network
	$(COMPOSE) down --remove-orphans
