# knit's set-up, demo and tests.  `make demo` and `make test` work on a fresh
# machine with Python 3, a JDK and Maven: everything else is installed here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
VERSION := $(shell cat knit/VERSION)
JAR    := knit/java/knit.jar
JAVA_SOURCES := $(shell find java_src -name '*.java')

.PHONY: setup demo test jar cluster cluster-stop docs bench bench-quick bench-setup clean

setup: $(VENV)/.installed $(JAR)
	@# Headless Chromium renders the notebook views in the tests (Debian's package).
	command -v chromium >/dev/null || (apt-get update -q && apt-get install -y -q chromium)
	@# JupyterHub's proxy, for the YarnSpawner tests (npm; node is on the machine).
	command -v configurable-http-proxy >/dev/null || npm install -g configurable-http-proxy@5.3.0
	@# MIT Kerberos for `knit minicluster start --secure` (a real KDC), and the
	@# headers the knit[kerberos] extra (gssapi) builds against.  The packages'
	@# own /etc/krb5.conf is never used: the secure cluster writes its own.
	command -v krb5kdc >/dev/null && test -e /usr/include/krb5.h || \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    krb5-kdc krb5-admin-server krb5-user libkrb5-dev)

$(VENV)/.installed: setup.py knit/VERSION
	@# gssapi (knit[kerberos], used by the tests) builds against the Kerberos headers.
	command -v krb5-config >/dev/null || (apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q libkrb5-dev)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,kerberos]'
	touch $@

jar: $(JAR)
$(JAR): pom.xml $(JAVA_SOURCES) knit/VERSION
	mvn -q -B package -Drevision=$(VERSION)

# The tests' session cluster declares 2 GPUs per node and a node label
# (tests/conftest.py PLACEMENT): the same here, so that `make demo` then
# `make test` share one cluster.
CLUSTER_OPTS := --gpus 2 --node-labels fast
cluster: setup
	$(PY) -m knit minicluster start $(CLUSTER_OPTS)

cluster-stop:
	$(PY) -m knit minicluster stop

# knit's main job: a command on 3 YARN containers of the local cluster.
demo: cluster
	eval "$$($(PY) -m knit minicluster env)" && $(PY) examples/hello_yarn.py
	@echo
	@echo "To use the knit command and the cluster from your shell:"
	@echo '  export PATH="$(abspath $(VENV))/bin:$$PATH"    # knit itself'
	@echo '  eval "$$(knit minicluster env)"                # hadoop, hdfs, yarn and HADOOP_CONF_DIR'
	@echo '  knit start -n 3 --wait "echo hello from \$$CONTAINER_ID"'

# JUnit runs every time (Maven's test phase: compiles what changed, writes
# no jar), then pytest; `$(PY) -m pytest -m unit` runs the tests that need
# no cluster.
test: setup
	mvn -q -B test -Drevision=$(VERSION)
	$(PY) -m pytest tests --durations=25

# Benchmarks: knit beside skein and DistributedShell (results in benchmarks/results/).
# The peers get a virtualenv of their own, so their pins never touch knit's.
PEERS := benchmarks/.peers
# The cost curve runs 1,000 containers of the minimum allocation (64 MB) at
# once: NodeManagers that offer YARN that much (YARN only counts it).  The
# tests reuse such a cluster as they find it.
BENCH_CLUSTER_OPTS := --nm-memory 36864 --nm-vcores 640
bench-setup: setup
	$(PY) -m knit minicluster start $(CLUSTER_OPTS) $(BENCH_CLUSTER_OPTS)
	$(PY) -m pip install -q matplotlib
	test -x $(PEERS)/bin/skein || ($(PYTHON) -m venv $(PEERS) && \
	  $(PEERS)/bin/pip install -q skein venv-pack)

bench: bench-setup
	eval "$$($(PY) -m knit minicluster env)" && $(PY) benchmarks/run.py

bench-quick: bench-setup
	eval "$$($(PY) -m knit minicluster env)" && $(PY) benchmarks/run.py --quick

clean:
	rm -rf $(VENV) target $(JAR) *.egg-info
