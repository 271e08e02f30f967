package Replicas::Gateway;

# A gateway for tests: Debian's nginx with the freshly built module and the
# project's own conf/replicas_proxy.conf, in front of a test Redis.  The
# server blocks mirror conf/nginx.conf.in, so tests exercise what auto/up
# runs.

use strict;
use warnings;

use Exporter 'import';
use Replicas::Test qw(start_nginx free_port repo_root poll_until tmpdir objs_dir);

our @EXPORT_OK = qw(start_gateway put_workspace delete_workspace
                    ws_key ws_channel signing_keys_file write_signing_keys
                    secrets_key_file);

our $DOMAIN = 'replicas.localhost';

# Key names come from the one header that defines them for C code too.
my %keys;
sub _keys {
    return %keys if %keys;
    my $h = repo_root() . '/ngx_replicas_module/common/rp_keys.h';
    open my $fh, '<', $h or die "$h: $!";
    while (<$fh>) {
        $keys{$1} = $2 if /^#define\s+(RP_\w+)\s+"([^"]*)"/;
    }
    return %keys;
}

sub ws_key     { my %k = _keys(); return $k{RP_KEY_WORKSPACE_PREFIX} . $_[0] }
sub ws_channel { my %k = _keys(); return $k{RP_CHANNEL_WS_CHANGED} }

# Writes a workspace record the way control does, and announces it.
sub put_workspace {
    my ($redis, $id, %f) = @_;
    $redis->cmd('HSET', ws_key($id), %f);
    $redis->cmd('PUBLISH', ws_channel(), $id);
}

sub delete_workspace {
    my ($redis, $id) = @_;
    $redis->cmd('DEL', ws_key($id));
    $redis->cmd('PUBLISH', ws_channel(), $id);
}

# A signing key file ("<kid> <64 hex>" per line, newest first).
my $keys_n = 0;
sub signing_keys_file {
    my (@kids) = @_;
    my $file = tmpdir() . '/signing-' . ++$keys_n . '.keys';
    write_signing_keys($file, @kids);
    return $file;
}

# The same kid always gets the same key, so files can be rewritten to
# rotate: ('k2', 'k1') signs with k2 and still accepts k1.
sub write_signing_keys {
    my ($file, @kids) = @_;
    open my $fh, '>', $file or die "$file: $!";
    for my $kid (@kids) {
        my $hex = unpack('H*', substr($kid x 32, 0, 32));
        print $fh "$kid $hex\n";
    }
    close $fh;
}

# A secrets key file (64 hex, what auto/up makes): environment values.
my $secrets_n = 0;
sub secrets_key_file {
    my $file = tmpdir() . '/secrets-' . ++$secrets_n . '.key';
    open my $rnd, '<:raw', '/dev/urandom' or die "/dev/urandom: $!";
    read($rnd, my $bytes, 32) == 32 or die "/dev/urandom: short read\n";
    close $rnd;
    open my $fh, '>', $file or die "$file: $!";
    chmod 0600, $file;
    print $fh unpack('H*', $bytes), "\n";
    close $fh;
    return $file;
}

# start_gateway(redis => $r, cache => 'on'|'off', ttl => '30s', aliases => [names],
#               timeout => '300ms', workers => 2, extra_http => '...',
#               auth => 'off'|'on', keys => $file, wake_hold => '60s',
#               secrets_key => $file | '' (none), keepalive_timeout => '1h')
# auth is off unless asked for: the routing tests are about routing, and
# t/3x-*.t test authentication with it on (as conf/nginx.conf.in has it).
# Previews go through conf/replicas_upstream.conf's upstream (its
# keepalive_timeout replaced when one is given).
sub start_gateway {
    my (%o) = @_;
    my $port = $o{port} // free_port();
    my $root = repo_root();
    my $redis = $o{redis} or die 'start_gateway needs redis';
    my $cache = $o{cache} // 'on';
    my $ttl = $o{ttl} // '30s';
    my $timeout = $o{timeout} // '300ms';
    my $extra = $o{extra_http} // '';
    my $auth = $o{auth} // 'off';
    my $keys = $o{keys} // signing_keys_file('k1');
    # the key environment values are sealed with ('' for none)
    my $secrets = $o{secrets_key} // secrets_key_file();
    my $secrets_conf = $secrets eq '' ? '' : "replicas_secrets_key $secrets;";
    # requests per key and user per minute, API and previews with a key:
    # tests poll (every 20 ms) far past the production default of 600;
    # the tests of the limit itself pass rate => N
    my $rate = $o{rate} // 100000;
    # how long programs are held while a workspace wakes
    my $hold = $o{wake_hold} // '60s';
    # the project's upstream block, as conf/nginx.conf.in includes it
    open my $ufh, '<', "$root/conf/replicas_upstream.conf"
        or die "conf/replicas_upstream.conf: $!";
    my $upstream = do { local $/; <$ufh> };
    close $ufh;
    $upstream =~ s/^(\s*keepalive_timeout)\s+\S+;/$1 $o{keepalive_timeout};/m
        or die "conf/replicas_upstream.conf has no keepalive_timeout\n"
        if $o{keepalive_timeout};

    # tls => 1: both servers speak https, with a self-signed certificate
    my ($ssl, $tls_conf) = ('', '');
    if ($o{tls}) {
        my $dir = tmpdir();
        system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=$DOMAIN "
               . "-keyout $dir/tls.key -out $dir/tls.crt >/dev/null 2>&1") == 0
            or die "openssl could not make a test certificate\n";
        $ssl = ' ssl';
        $tls_conf = "ssl_certificate $dir/tls.crt; ssl_certificate_key $dir/tls.key;";
    }

    # more addresses for the main site (the API), e.g. the sandboxes'
    # bridge, so engines reach it
    my $also = join '', map { "        listen $_:$port$ssl;\n" } @{ $o{also_listen} // [] };
    # more names for the main site (replicas_alias)
    my $aliases = @{ $o{aliases} // [] } ? "replicas_alias @{ $o{aliases} };" : '';

    # dashboard => 1: the main site's "location /" is the built dashboard,
    # as in conf/nginx.conf.in (else a fixed text other tests expect)
    my $main_location = $o{dashboard}
        ? "location / { root " . objs_dir() . "/dashboard/www; include $root/conf/replicas_dashboard.conf; }"
        : "location / { default_type text/plain; return 200 \"main site\\n\"; }";

    my $http = <<"CONF";
    replicas_redis 127.0.0.1:$redis->{port};
    replicas_redis_timeout $timeout;
    replicas_cache_zone 1m;
    replicas_cache_ttl $ttl;
    replicas_domain $DOMAIN;
    replicas_scripts $root/ngx_replicas_module/lua;
    replicas_signing_keys $keys;
    $secrets_conf
    replicas_api_rate $rate;
    replicas_wake_hold $hold;
    $tls_conf

$upstream

    map \$http_upgrade \$replicas_connection_upgrade {
        default upgrade;
        ''      '';
    }

    server {
        listen 127.0.0.1:$port$ssl default_server;
$also        server_name $DOMAIN;
        replicas_main_site on;
        $aliases

        location /v1/ {
            replicas_api;
            client_max_body_size 1m;
            client_body_buffer_size 64k;
            error_page 413 \@replicas_api_too_large;
        }

        location /v1/environments {
            replicas_api;
            replicas_api_body_max 4m;
            client_max_body_size 4m;
            client_body_buffer_size 4m;
            error_page 413 \@replicas_api_too_large;
        }

        location ~ ^/v1/workspaces/[a-z0-9]+/(events|hooks|git|diff|files|files/content)\$ {
            replicas_api_events on;
            proxy_pass http://\$replicas_upstream/\$1\$is_args\$args;
            include $root/conf/replicas_proxy.conf;
            error_page 502 504 \@replicas_engine_error;
        }

        location ~ "^/v1/workspaces/[a-z0-9]+/(chats/[a-z0-9_-]{1,64}/interrupt|git/(?:update|push|pull-request))\$" {
            replicas_api_events on;
            proxy_pass http://\$replicas_upstream/\$1\$is_args\$args;
            include $root/conf/replicas_proxy.conf;
            error_page 502 504 \@replicas_engine_error;
        }

        location ~ ^/v1/workspaces/[a-z0-9]+/engine\$ {
            replicas_api_events on;
            proxy_pass http://\$replicas_upstream/healthz;
            proxy_pass_request_headers off;
            proxy_pass_request_body off;
            proxy_connect_timeout 5s;
            proxy_send_timeout 5s;
            proxy_read_timeout 15s;
            error_page 502 504 \@replicas_engine_error;
        }

        location \@replicas_engine_error {
            replicas_upstream_error;
        }

        location \@replicas_api_too_large {
            default_type application/json;
            return 413 '{"error":{"code":"body_too_large","message":"the request body is too large"}}';
        }

        location = /login        { replicas_session; }
        location = /logout       { replicas_session; }
        location = /auth/preview { replicas_session; }

        location = /healthz {
            default_type application/json;
            return 200 '{"status":"ok"}';
        }

        $main_location
    }

    server {
        listen 127.0.0.1:$port$ssl;
        server_name *.$DOMAIN;

        location / {
            replicas_route on;
            proxy_pass http://replicas;
            error_page 502 504 \@replicas_upstream_error;
            replicas_cache $cache;
            replicas_auth $auth;
            include $root/conf/replicas_proxy.conf;
        }

        location \@replicas_upstream_error {
            replicas_upstream_error;
        }
    }
$extra
CONF

    # Each worker subscribes to the change channel, and flushes the cache
    # when it does: wait for every subscription, so a test's first cached
    # route is not flushed under it.  (No Redis yet: nothing to wait for.)
    my $workers = $o{workers} // 2;
    my $subs = sub { eval { $redis->cmd('PUBSUB', 'NUMSUB', ws_channel())->[1] } };
    my $before = $subs->() // 0;

    my $nginx = start_nginx(http => $http, port => $port, workers => $workers,
                            http_head => "include $root/conf/replicas_log.conf;",
                            log_format => 'replicas');

    poll_until(10, sub { ($subs->() // $before + $workers) >= $before + $workers })
        or die "gateway workers did not subscribe to Redis\n";
    return { nginx => $nginx, port => $port, domain => $DOMAIN, keys => $keys,
             secrets_key => $secrets };
}

1;
