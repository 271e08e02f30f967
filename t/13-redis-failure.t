# Redis dies, restarts, stalls: the gateway answers 503 with Retry-After
# rather than hang, no worker crashes, and it recovers by itself without a
# reload.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use POSIX ();
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis start_upstream http_request http_json
                      free_port poll_until tmpdir nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace);

my $redis = start_redis();
my $port = free_port();
my $app = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $gw = start_gateway(redis => $redis, cache => 'off', timeout => '300ms');
my $cached = start_gateway(redis => $redis, cache => 'on', ttl => '1h');
my $d = $gw->{domain};
my $host = "$port-eps.$d";

put_workspace($redis, 'eps', state => 'awake', addr => '127.0.0.2');

sub status { http_request(port => $_[0]{port}, host => $host, timeout => 5)->{status} }

is(status($gw), 200, 'served while Redis is up');
is(status($cached), 200, 'cached gateway filled its cache');
my @workers = sort $gw->{nginx}->worker_pids;

# --- traffic in a child while Redis is killed and restarted ---------------
my $log = tmpdir() . '/statuses';
my $stop = tmpdir() . '/stop-traffic';
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open my $fh, '>', $log or POSIX::_exit(1);
    $fh->autoflush(1);
    my $deadline = time + 60;
    while (!-e $stop && time < $deadline) {
        my $r = http_request(port => $gw->{port}, host => $host, timeout => 5);
        print $fh ($r->{status} || "0:$r->{error}"), "\n";
        sleep 0.01;
    }
    POSIX::_exit(0);
}

sleep 0.3;
$redis->kill9;
sleep 0.5;

my $res = http_request(port => $gw->{port}, host => $host, timeout => 5);
is($res->{status}, 503, 'Redis down: 503');
ok($res->{headers}{'retry-after'}, 'with Retry-After');
is(http_json($res)->{error}{code}, 'state_unavailable', 'and a JSON error code');
$res = http_request(port => $gw->{port}, host => $host, timeout => 5,
                    headers => [['Accept', 'text/html,*/*']]);
like($res->{headers}{'content-type'}, qr{text/html}, 'browsers get a page');
like($res->{body}, qr/http-equiv="refresh"/, 'that retries by itself');

is(status($cached), 200, 'a cached route keeps serving while Redis is down');

$redis->restart;
put_workspace($redis, 'eps', state => 'awake', addr => '127.0.0.2');
ok(poll_until(10, sub { status($gw) == 200 }), 'recovers without a reload');

# each worker reconnects on its own backoff: let the traffic see both back
sub last_seen {
    open my $in, '<', $log or return '';
    my @l = <$in>;
    chomp(my $last = $l[-1] // '');
    return $last;
}
poll_until(10, sub { last_seen() eq '200' });

open my $done, '>', $stop or die;
close $done;
waitpid $pid, 0;

open my $fh, '<', $log or die "$log: $!";
chomp(my @seen = <$fh>);
my %count;
$count{$_}++ for @seen;
diag('statuses during the outage: ' . join ', ', map { "$_ x$count{$_}" } sort keys %count);
ok(@seen > 10, 'traffic ran through the outage');
my @odd = grep { $_ ne '200' && $_ ne '503' } @seen;
ok(!@odd, 'every request got 200 or 503, none hung or broke') or diag("@odd[0..9]");
ok($count{503}, 'some requests saw the outage');
is($seen[-1], '200', 'and traffic ended healthy');

is_deeply([sort $gw->{nginx}->worker_pids], \@workers, 'no worker was replaced');

# --- Redis alive but stalled (SIGSTOP) ------------------------------------
$redis->pause;
my $t0 = time;
$res = http_request(port => $gw->{port}, host => $host, timeout => 10);
is($res->{status}, 503, 'stalled Redis: 503 after the lookup deadline, not a hang');
diag(sprintf 'answered after %.0f ms (deadline 300 ms)', (time - $t0) * 1000);
$res = http_request(port => $gw->{port}, host => $host, timeout => 10);
is($res->{status}, 503, 'still 503 while stalled');
$redis->resume;
ok(poll_until(10, sub { status($gw) == 200 }), 'recovers once Redis answers');

# --- Redis never there at start --------------------------------------------
my $gone = start_redis();
my $port_gone = $gone->{port};
$gone->stop;
my $orphan = start_gateway(redis => $gone, cache => 'off');
is(status($orphan), 503, 'a gateway started without Redis answers 503');
$gone->restart;
put_workspace($gone, 'eps', state => 'awake', addr => '127.0.0.2');
ok(poll_until(10, sub { status($orphan) == 200 }), 'and connects once Redis appears');

done_testing();
