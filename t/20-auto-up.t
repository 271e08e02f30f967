# The README's first command: auto/up --detach brings Redis and the gateway
# up, prints the URLs, and the demo preview answers through the gateway;
# auto/down stops everything.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(repo_root tmpdir free_port http_request wait_port);

my $root = repo_root();
my $home = tmpdir() . '/home';
my ($port, $redis_port) = (free_port(), free_port());
my %env = (REPLICAS_HOME => $home, REPLICAS_PORT => $port,
           REPLICAS_REDIS_PORT => $redis_port, REPLICAS_DEMO_ADDR => '127.0.0.78');
local @ENV{keys %env} = values %env;

my $out = qx{$root/auto/up --detach 2>&1};
is($?, 0, 'auto/up --detach succeeds') or diag($out);
like($out, qr{http://3000-demo\.replicas\.localhost:$port/}, 'prints the demo preview URL');
like($out, qr{http://replicas\.localhost:$port/}, 'prints the main site URL');

my $res = http_request(port => $port, host => "3000-demo.replicas.localhost:$port");
is($res->{status}, 200, 'the demo preview answers through the gateway');
like($res->{body}, qr/demo workspace/, 'with the demo page');

$res = http_request(port => $port, host => "replicas.localhost:$port", path => '/healthz');
like($res->{body}, qr/"ok"/, 'the main site answers /healthz');

$res = http_request(port => $port, host => "3001-demo.replicas.localhost:$port");
is($res->{status}, 502, 'a closed port of the demo workspace: 502');

ok(-s "$home/logs/gateway.log", 'gateway log under REPLICAS_HOME');

$out = qx{$root/auto/down 2>&1};
is($?, 0, 'auto/down succeeds');
ok(!wait_port('127.0.0.1', $port, 0.5), 'the gateway is gone');
ok(!wait_port('127.0.0.1', $redis_port, 0.5), 'Redis is gone');

done_testing();
