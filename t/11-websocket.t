# WebSocket upgrades pass through the gateway both ways.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(start_redis start_upstream ws_connect free_port
                      nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace);

my $redis = start_redis();
my $port = free_port();
my $a = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $b = start_upstream(addr => '127.0.0.3', port => $port, name => 'B');
my $gw = start_gateway(redis => $redis);
my $d = $gw->{domain};

put_workspace($redis, 'wsa', state => 'awake', addr => '127.0.0.2');
put_workspace($redis, 'wsb', state => 'awake', addr => '127.0.0.3');

my $ws = ws_connect(port => $gw->{port}, host => "$port-wsa.$d",
                    path => '/websockify');
is($ws->{status}, 101, 'upgrade accepted through the gateway');

for my $msg ('hello', 'second message', 'x' x 5000) {
    $ws->send_text($msg);
    is($ws->recv_text(5), "A:$msg", 'echoed by the right workspace: ' . substr($msg, 0, 20));
}

my $ws2 = ws_connect(port => $gw->{port}, host => "$port-wsb.$d");
is($ws2->{status}, 101, 'second workspace upgrade');
$ws2->send_text('ping');
is($ws2->recv_text(5), 'B:ping', 'each socket reaches its own workspace');

$ws->send_text('still here');
is($ws->recv_text(5), 'A:still here', 'the first socket stays open meanwhile');

$ws->close;
$ws2->close;

my $bad = ws_connect(port => $gw->{port}, host => "$port-nosuch.$d");
is($bad->{status}, 404, 'upgrade to an unknown workspace is refused with 404');

done_testing();
