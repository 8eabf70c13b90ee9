# syntax=docker/dockerfile:1
# market-etl container image: every binary in one image, ENTRYPOINT etl (the front command), so
#   docker run --rm -e DATABASE_URL=postgresql://... IMAGE historical 1Y
# runs `etl historical 1Y` (etl-historical); `--entrypoint etl-latest` runs a binary directly. Build:
#   docker build -t market-etl .
# The build stage installs exactly what tests/e2e/test_install.py stages and runs without Docker:
# `cmake --install build --prefix STAGE --strip`. That test also checks this file: the runtime
# apt-get line names the package of every shared library the staged binaries need (readelf, ldd,
# dpkg -S), the tz database is installed, the user is not root. Nothing here was built with Docker
# in this repository's tests.

# ---- build: Debian 12 with the build dependencies (scripts/install-deps.sh's libraries; no test servers)
FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ca-certificates \
      libcli11-dev libpq-dev libcurl4-openssl-dev libsimdjson-dev libfmt-dev libtoml11-dev \
      libsqlite3-dev libhiredis-dev libhowardhinnant-date-dev libexpected-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Release, no tests; DESTDIR stages the /usr/local tree the runtime stage copies (stripped binaries,
# share/doc/market-etl/examples, lib/systemd/system: see cmake/Install.cmake).
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DETL_BUILD_TESTS=OFF \
      -DCMAKE_INSTALL_PREFIX=/usr/local \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/stage cmake --install /build --strip

# ---- runtime: debian:12-slim with the shared libraries the binaries link, the tz database (the jobs
# read America/New_York from /usr/share/zoneinfo) and CA certificates (HTTPS to the providers).
FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libc6 libgcc-s1 libstdc++6 libpq5 libcurl4 libsqlite3-0 libhiredis0.14 libfmt9 libdate-tz3 libsimdjson14 \
      tzdata ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /stage/usr/local/ /usr/local/
# A fixed numeric uid/gid, so `runAsNonRoot: true` in a pod can verify it without an /etc/passwd lookup.
RUN groupadd --gid 10001 market-etl \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/market-etl --create-home \
      --shell /usr/sbin/nologin market-etl
USER 10001:10001
WORKDIR /var/lib/market-etl
# A job in a pod (KUBERNETES_SERVICE_HOST set) with no DATABASE_URL exits 78 rather than write the
# default sqlite:market-etl.db into this throwaway directory.
ENTRYPOINT ["etl"]
CMD ["--help"]
