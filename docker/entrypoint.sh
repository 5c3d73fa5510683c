#!/bin/sh
# One image, several roles: web | worker | beat | migrate | any other command.
set -eu

case "${1:-web}" in
    web)
        exec daphne --bind 0.0.0.0 --port 8000 clinic.asgi:application
        ;;
    worker)
        # One analysis at a time per process: each already uses every core it is given.
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
