# Connections to workspaces are reused (conf/replicas_upstream.conf:
# replicas_balancer with keepalive), and only ever by the workspace they
# were opened for: two workspaces on one address never share one, an
# address one workspace gave back and another took gets new connections,
# and a workspace's idle connections close when its change is published.
# WebSocket upgrades pass, and an upgraded connection is not kept.
#
# The test upstream serves each TCP connection in a child of its own and
# answers with that child's pid ("conn"): one pid, one connection; the
# child exits when the connection closes.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      ws_connect poll_until);
use Replicas::Gateway qw(start_gateway put_workspace ws_key);

my $redis = start_redis();
my $app = start_upstream(addr => '127.0.0.2', name => 'app');
my $port = $app->port;
# one worker: its keepalive cache is the whole gateway's; idle
# connections kept an hour, so only the gateway's own doing closes one
my $gw = start_gateway(redis => $redis, workers => 1, wake_hold => '1s',
                       keepalive_timeout => '1h');
my $d = $gw->{domain};

sub conn_of {
    my ($id, %o) = @_;
    my $r = http_request(port => $gw->{port}, host => "$port-$id.$d", %o);
    return $r->{status} == 200 ? http_json($r)->{conn} : "status $r->{status}";
}

sub open_conn { my ($pid) = @_; return $pid =~ /^\d+$/ && kill(0, $pid) }

sub uniq { my %s; return grep { !$s{$_}++ } @_ }

put_workspace($redis, 'alpha', state => 'awake', addr => '127.0.0.2');

# --- reuse ------------------------------------------------------------------

my @alpha = map { conn_of('alpha') } 1 .. 20;
my @alpha_conns = uniq(@alpha);
is(scalar(grep { /^\d+$/ } @alpha), 20, 'twenty requests answered');
is(scalar @alpha_conns, 1, 'over one connection (a new one per request before)')
    or diag("connections: @alpha_conns");

push @alpha, conn_of('alpha', method => 'POST', body => '{"a":1}');
is($alpha[-1], $alpha_conns[0], 'a POST reuses it too');

# --- two workspaces on one address ----------------------------------------

# beta names the same address (no publish: nothing tells the gateway
# that alpha's connection is any less good for beta): the cache holds a
# connection to 127.0.0.2:PORT, opened for alpha
$redis->cmd('HSET', ws_key('beta'), state => 'awake', addr => '127.0.0.2');
my $beta = conn_of('beta');
like($beta, qr/^\d+$/, 'beta answered');
ok(!grep({ $_ eq $beta } @alpha_conns), "beta does not get alpha's connection");
ok(!open_conn($alpha_conns[0]) || poll_until(5, sub { !open_conn($alpha_conns[0]) }),
   "alpha's connection, handed to beta by the cache, was closed");
is(conn_of('beta'), $beta, 'beta reuses its own');

my $alpha_again = conn_of('alpha');
like($alpha_again, qr/^\d+$/, 'alpha answered');
isnt($alpha_again, $beta, "and alpha does not get beta's");
push @alpha_conns, $alpha_again;

# --- the address changes hands ---------------------------------------------

# alpha sleeps: its idle connection is closed when the change is
# published (its sandbox is gone; the address may be another's next)
ok(open_conn($alpha_again), "alpha's connection is open while alpha is awake");
put_workspace($redis, 'alpha', state => 'sleeping');
ok(poll_until(5, sub { !open_conn($alpha_again) }),
   'the published change closes the idle connection of the workspace');

# alpha wakes on the same address (a new sandbox): new connections
put_workspace($redis, 'alpha', state => 'awake', addr => '127.0.0.2');
my $woken = conn_of('alpha');
like($woken, qr/^\d+$/, 'alpha answered after waking');
ok(!grep({ $_ eq $woken } @alpha_conns), 'over a new connection');
push @alpha_conns, $woken;

# alpha sleeps again, and gamma wakes on the address alpha had
put_workspace($redis, 'alpha', state => 'sleeping');
put_workspace($redis, 'gamma', state => 'awake', addr => '127.0.0.2');
my @gamma = map { conn_of('gamma') } 1 .. 5;
like($gamma[0], qr/^\d+$/, 'gamma answered');
ok(!grep({ my $g = $_; grep { $_ eq $g } @alpha_conns, $beta } @gamma),
   'gamma, on the address alpha had, gets none of the connections of others');
is(scalar uniq(@gamma), 1, 'and reuses its own');

# --- WebSocket ---------------------------------------------------------------

my $ws = ws_connect(port => $gw->{port}, host => "$port-gamma.$d", path => '/ws');
is($ws->{status}, 101, 'a WebSocket upgrade passes through the balancer');
$ws->send_text('hello');
is($ws->recv_text(5), 'app:hello', 'and echoes');
$ws->send_text('request?');
my $seen = eval { decode_json($ws->recv_text(5)) } // {};
my $ws_conn = $seen->{':conn'} // '';
like($ws_conn, qr/^\d+$/, 'the upstream saw the upgrade');
$ws->close;
ok(poll_until(5, sub { !open_conn($ws_conn) }), 'the upgraded connection is closed with it');
my $after = conn_of('gamma');
like($after, qr/^\d+$/, 'gamma answers after the WebSocket');
isnt($after, $ws_conn, 'not over the upgraded connection');

done_testing;
