# loginguard - the commands of README.md. Each target installs what it needs first.
#   make demo    set everything up and run the main job
#   make test    set everything up and run every test (unit + e2e, release and ASan+UBSan)
#   make bench   run the benchmarks (results go in bench/RESULTS.md by hand)
#   make build   release build only: build/loginguard
JOBS ?= 2
MAKEFLAGS += --no-print-directory

.PHONY: all deps build build-asan test test-release test-asan demo bench clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build build -j$(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DLG_SANITIZE=ON >/dev/null
	@cmake --build build-asan -j$(JOBS)

test-release: build
	cd build && ctest --output-on-failure -j$(JOBS)

test-asan: build-asan
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j$(JOBS)

test: test-release test-asan

demo: build
	@bash scripts/demo.sh

bench: build
	@bash bench/run.sh

clean:
	rm -rf build build-asan
