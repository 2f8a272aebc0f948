#!/bin/sh
# Installs Debian packages the project needs (chromium, nginx, redis, postgresql) without
# letting their install scripts start system services: the project starts its own instances.
set -e
if [ "$(id -u)" != 0 ]; then
    echo "Missing Debian packages: $*. Install them as root: apt-get install $*" >&2
    exit 1
fi
created_policy=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    created_policy=yes
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
if [ -n "$created_policy" ]; then rm -f /usr/sbin/policy-rc.d; fi
