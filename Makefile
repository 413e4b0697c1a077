# Benchmarks (issue 5). `make bench` runs Cairn against every S3 peer installed on this machine
# (../shared/bench/peers/install.sh --with-ceph installs moto, s3rver, Ceph RGW and the patched wrk)
# and writes the table to bench/results/peers.md; `make bench-quick` is a two-minute look against moto.
PYTHON ?= python3
BENCH_ARGS ?=

.PHONY: bench bench-quick

bench:
	$(PYTHON) bench/peers.py --reps 3 --concurrency 16,64 --duration 4 --out bench/results/peers.md $(BENCH_ARGS)

bench-quick:
	$(PYTHON) bench/peers.py --peers moto,sanic --reps 1 --concurrency 16 --duration 2 \
		--workloads put-4k,get-4k,head,list-1000,put-1m,get-1m,mixed --scaling '' --out bench/results/quick.md $(BENCH_ARGS)
