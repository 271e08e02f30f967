# Hostile Host headers: each gets a clean 400 (from nginx's own checks or
# ours) or lands on the main site, never reaches Redis as syntax, never
# crashes a worker.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      free_port nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace ws_key);

my $redis = start_redis();
my $port = free_port();
my $app = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $gw = start_gateway(redis => $redis);
my $d = $gw->{domain};

put_workspace($redis, 'abc', state => 'awake', addr => '127.0.0.2');
$redis->cmd('SET', 'canary', 'alive');

my @bad = (
    [ 'overlong label',     ('9' x 5) . '-' . ('a' x 200) . ".$d" ],
    [ 'overlong host',      ('a' x 6000) . ".$d" ],
    [ 'NUL byte',           "$port-ab\0c.$d" ],
    [ 'dot dot',            "$port-abc..$d" ],
    [ 'leading dot dot',    "..$d" ],
    [ 'path in host',       "$port-abc/../x.$d" ],
    [ 'backslash',          "$port-abc\\x.$d" ],
    [ 'unicode id',         "$port-ab\xc3\xa9.$d" ],
    [ 'unicode digits',     "\xd9\xa3000-abc.$d" ],
    [ 'leading zeros',      "00$port-abc.$d" ],
    [ 'port 0',             "0-abc.$d" ],
    [ 'port 65536',         "65536-abc.$d" ],
    [ 'huge port',          "18446744073709551617-abc.$d" ],
    [ 'negative port',      "-1-abc.$d" ],
    [ 'no port',            "abc.$d" ],
    [ 'no id',              "$port-.$d" ],
    [ 'two labels',         "x.$port-abc.$d" ],
    [ 'redis syntax',       "$port-abc*1\$8flushall.$d" ],
    [ 'redis glob',         "$port-*.$d" ],
    [ 'percent CRLF',       "$port-abc%0d%0aflushall.$d" ],
    [ 'space',              "$port-abc flushall.$d" ],
    [ 'quote',              "$port-abc\"x.$d" ],
    [ 'angle brackets',     "$port-<script>.$d" ],
    [ 'tab',                "$port-abc\tx.$d" ],
    [ 'uppercase unicode',  "$port-ABC\xe2\x84\xaa.$d" ],
);

# the few nginx's own header parser refuses before the module runs (its
# HTML page); every other one gets the module's JSON
my %by_nginx = map { $_ => 1 } ('NUL byte', 'dot dot', 'leading dot dot',
                                'path in host', 'space', 'tab');
for my $case (@bad) {
    my ($name, $host) = @$case;
    my $res = http_request(port => $gw->{port}, host => $host);
    is($res->{status}, 400, "$name: 400") or diag($res->{error} // $res->{body});
    if ($by_nginx{$name}) {
        like($res->{body}, qr{<title>400 Bad Request</title>}, "$name: nginx's own 400");
        next;
    }
    is((http_json($res) // {})->{error}{code}, 'bad_host', "$name: the module's bad_host")
        or diag($res->{body});
    unlike($res->{body}, qr/<script>/, "$name: host not echoed raw");
}

# hosts that are not ours at all never get the main site (a DNS-rebinding
# page would reach the API and the login pages under its own name): 421
for my $host ('example.com', "$d.example.com", "3000-abc.${d}x",
              "3000-abc.$d.evil.test", "$d.evil.test") {
    my $res = http_request(port => $gw->{port}, host => $host);
    is($res->{status}, 421, "$host: 421");
    is((http_json($res) // {})->{error}{code}, 'misdirected_host', "$host: misdirected_host");
    unlike($res->{body}, qr/main site/, "$host: not the main site");
}

# a request line with an absolute URI overrides Host, as HTTP says
my $res = http_request(port => $gw->{port}, host => "$port-nosuch.$d",
                       path => "http://$port-abc.$d/abs");
is(http_json($res)->{name}, 'A', 'absolute-form request target routes by its host');

$res = http_request(port => $gw->{port}, host => undef,
                    raw => "GET / HTTP/1.0\r\n\r\n");
is($res->{status}, 421, 'HTTP/1.0 without Host: not the main site');
$res = http_request(port => $gw->{port}, host => undef,
                    raw => "GET /healthz HTTP/1.0\r\n\r\n");
is($res->{status}, 200, 'HTTP/1.0 without Host: the health check answers');

is($redis->cmd('GET', 'canary'), 'alive', 'Redis was not flushed');
is($redis->cmd('HGET', ws_key('abc'), 'state'), 'awake', 'workspace record intact');

$res = http_request(port => $gw->{port}, host => "$port-abc.$d");
is(http_json($res)->{name}, 'A', 'the gateway still serves afterwards');

done_testing();
