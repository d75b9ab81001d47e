# Kubernetes + Knative: manifests, images, deploy (see docs/operations.md).
#
#   make manifests        regenerate knative/ from the code (`dcs-proxy manifests`)
#   make manifests-check  render every kustomize tree with `kubectl kustomize`
#   make images           build the proxy and launcher images (REGISTRY=… to tag for a registry)
#   make push-images      push them (needs REGISTRY)
#   make deploy           check kubectl, the cluster and Knative, then apply knative/
#   make undeploy         remove the proxy and the workspaces; keep users' volumes (PURGE=1: all)
#   make e2e-k8s          the #[ignore]d real-cluster tests, against $KUBECONFIG
#
# Variables: K8S_TREE (knative, knative/overlays/ingress-nginx or knative/overlays/kind),
# REGISTRY, IMAGE_TAG, KUBECTL, DOCKER, PURGE.

KUBECTL ?= kubectl
DOCKER ?= docker
REGISTRY ?=
IMAGE_TAG ?= $(shell sed -n 's/^version = "\(.*\)"/\1/p' $(CURDIR)/Cargo.toml | head -n1)
K8S_TREE ?= knative
PROXY_NS := dcs
WORKSPACES_NS := dcs-workspaces
IMAGE_PREFIX := $(if $(REGISTRY),$(REGISTRY)/,)
PROXY_IMAGE := $(IMAGE_PREFIX)dcs-proxy:$(IMAGE_TAG)
LAUNCHER_IMAGE := $(IMAGE_PREFIX)dcs-launcher:$(IMAGE_TAG)
K8S_STAGE := $(CURDIR)/.cache/k8s
# Pass the launcher's `static` feature (vendored OpenSSL) when the crate has it.
LAUNCHER_FEATURES := $(shell grep -q '^static *=' launcher/Cargo.toml 2>/dev/null && echo static)

.PHONY: manifests manifests-check images push-images k8s-preflight deploy undeploy e2e-k8s

## manifests: regenerate knative/ (a test fails when it drifts from the code)
manifests:
	$(CARGO) run -q --bin dcs-proxy -- manifests --out-dir knative

## manifests-check: every kustomize tree renders
manifests-check:
	@command -v $(KUBECTL) >/dev/null || { echo "kubectl not found (https://kubernetes.io/docs/tasks/tools/)"; exit 1; }
	@for t in knative knative/overlays/ingress-nginx knative/overlays/kind; do \
	  $(KUBECTL) kustomize $$t >/dev/null && echo "ok: $$t renders" || exit 1; done

## images: the proxy and the static launcher, both non-root
images:
	@command -v $(DOCKER) >/dev/null || { echo "$(DOCKER) not found: install Docker or set DOCKER=podman"; exit 1; }
	$(DOCKER) build -f docker/proxy.Dockerfile -t $(PROXY_IMAGE) .
	$(DOCKER) build -f docker/launcher.Dockerfile --build-arg LAUNCHER_FEATURES=$(LAUNCHER_FEATURES) \
	  -t $(LAUNCHER_IMAGE) .

push-images: images
	@test -n "$(REGISTRY)" || { echo "set REGISTRY=registry.example.com/team to push"; exit 1; }
	$(DOCKER) push $(PROXY_IMAGE)
	$(DOCKER) push $(LAUNCHER_IMAGE)

## k8s-preflight: kubectl, a reachable cluster, Knative Serving's CRDs
k8s-preflight:
	@command -v $(KUBECTL) >/dev/null || { echo "kubectl not found (https://kubernetes.io/docs/tasks/tools/)"; exit 1; }
	@$(KUBECTL) version --request-timeout=10s >/dev/null 2>&1 || { \
	  echo "the cluster is not reachable: check KUBECONFIG / 'kubectl config current-context'"; exit 1; }
	@$(KUBECTL) get crd services.serving.knative.dev revisions.serving.knative.dev >/dev/null 2>&1 || { \
	  echo "Knative Serving is not installed (CRD services.serving.knative.dev missing): see docs/operations.md"; exit 1; }
	@$(KUBECTL) get namespace knative-serving >/dev/null 2>&1 || { \
	  echo "namespace knative-serving not found: install Knative Serving first"; exit 1; }
	@if [ -f "$(K8S_TREE)/httproute.yaml" ]; then \
	  $(KUBECTL) get crd httproutes.gateway.networking.k8s.io >/dev/null 2>&1 || { \
	    echo "Gateway API CRDs missing (HTTPRoute): install them or use K8S_TREE=knative/overlays/ingress-nginx"; exit 1; }; fi
	@echo "preflight ok: $$($(KUBECTL) config current-context 2>/dev/null)"

## deploy: server-side apply (only our keys of Knative's ConfigMaps are touched)
deploy: k8s-preflight
	@rm -rf "$(K8S_STAGE)" && mkdir -p "$(K8S_STAGE)"
	@printf '%s\n' \
	  'apiVersion: kustomize.config.k8s.io/v1beta1' 'kind: Kustomization' \
	  'resources:' '  - ../../$(K8S_TREE)' \
	  'images:' '  - name: dcs-proxy' '    newName: $(IMAGE_PREFIX)dcs-proxy' '    newTag: "$(IMAGE_TAG)"' \
	  'configMapGenerator:' '  - name: dcs-proxy-config' '    namespace: $(PROXY_NS)' '    behavior: merge' \
	  '    literals:' '      - DCS_PROXY_KNATIVE_LAUNCHER_IMAGE=$(LAUNCHER_IMAGE)' \
	  > "$(K8S_STAGE)/kustomization.yaml"
	$(KUBECTL) apply --server-side --force-conflicts --field-manager=dcs -k "$(K8S_STAGE)"
	@# The hop secret: random, the same for every replica, created once and never
	@# overwritten (rotating it is deliberate: see docs/operations.md).
	@$(KUBECTL) -n $(PROXY_NS) get secret dcs-hop >/dev/null 2>&1 || \
	  $(KUBECTL) -n $(PROXY_NS) create secret generic dcs-hop \
	    --from-literal=secret="$$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
	$(KUBECTL) -n $(PROXY_NS) rollout status deployment/dcs-proxy --timeout=180s

## undeploy: proxy, RBAC, routes and workspaces go; users' volumes and tokens stay unless PURGE=1
undeploy:
	@command -v $(KUBECTL) >/dev/null || { echo "kubectl not found"; exit 1; }
	-$(KUBECTL) -n $(WORKSPACES_NS) delete ksvc -l app.kubernetes.io/managed-by=dcs --ignore-not-found
	-$(KUBECTL) -n $(WORKSPACES_NS) delete pvc -l app.kubernetes.io/name=dcs-workspace-home --ignore-not-found
	-$(KUBECTL) -n $(WORKSPACES_NS) delete role,rolebinding,networkpolicy -l app.kubernetes.io/part-of=dcs --ignore-not-found
	-$(KUBECTL) -n authentik delete ingress dcs-outpost --ignore-not-found
	-$(KUBECTL) delete namespace $(PROXY_NS) --ignore-not-found
	@if [ "$(PURGE)" = 1 ]; then $(KUBECTL) delete namespace $(WORKSPACES_NS) --ignore-not-found; \
	else echo "kept namespace $(WORKSPACES_NS) (users' volumes and git token Secrets); PURGE=1 deletes it"; fi
	@echo "Knative's config-features/-defaults/-autoscaler keep the keys dcs set (see docs/operations.md)"

## e2e-k8s: the real-cluster tests (#[ignore]) against $KUBECONFIG
e2e-k8s:
	@if [ -z "$$KUBECONFIG" ]; then \
	  echo "e2e-k8s runs the #[ignore]d real-cluster tests and needs a cluster with Knative Serving:"; \
	  echo "  export KUBECONFIG=~/.kube/config   (namespace: DCS_E2E_NAMESPACE, default $(WORKSPACES_NS);"; \
	  echo "  make deploy first, or at least apply knative/base/knative-config.yaml and the namespace)"; \
	  exit 2; fi
	$(CARGO) test -p dcs-proxy --lib -- --ignored real_cluster
