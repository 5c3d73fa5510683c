#!/bin/sh
# One image, several roles: web | worker | beat | migrate | any other command.
set -eu

case "${1:-web}" in
    web)
        # HTTP and WebSockets in WEB_WORKERS processes (default: two per core: each runs its
        # views on one thread, which idles while Postgres answers). Forwarded headers are read
        # by clinic.client_address, from MOODLINE_TRUSTED_PROXIES only.
        exec uvicorn clinic.asgi:application --host 0.0.0.0 --port 8000 \
            --workers "${WEB_WORKERS:-$((2 * $(nproc)))}" --no-proxy-headers --no-server-header \
            --lifespan off --timeout-graceful-shutdown 20
        ;;
    worker)
        # Each analysis sizes its thread pools to cores ÷ analyses sharing them
        # (analysis/threads.py): this worker's concurrency, unless the machine runs several
        # workers and says so with MOODLINE_CONCURRENT_ANALYSES.
        export MOODLINE_CONCURRENT_ANALYSES="${MOODLINE_CONCURRENT_ANALYSES:-${WORKER_CONCURRENCY:-1}}"
        # On jemalloc, which gives back what an analysis freed; glibc's malloc keeps hundreds
        # of MiB of it (analysis/allocator.py). MOODLINE_ALLOCATOR=system keeps glibc's.
        if [ "${MOODLINE_ALLOCATOR:-jemalloc}" = jemalloc ]; then
            export LD_PRELOAD="libjemalloc.so.2${LD_PRELOAD:+ $LD_PRELOAD}"
        fi
        exec celery -A clinic worker \
            --queues "${CELERY_QUEUES:-analysis}" \
            --concurrency "${WORKER_CONCURRENCY:-1}" \
            --hostname "${CELERY_QUEUES:-analysis}@%h" \
            --loglevel "${LOG_LEVEL:-INFO}"
        ;;
    beat)
        exec celery -A clinic beat \
            --scheduler django_celery_beat.schedulers:DatabaseScheduler \
            --loglevel "${LOG_LEVEL:-INFO}"
        ;;
    migrate)
        exec python manage.py migrate --noinput
        ;;
    *)
        exec "$@"
        ;;
esac
