#!/usr/bin/env perl
# ./auto/bench faults: how long the stack takes to recover from each fault
# of t/52-faults.t, one stack, faults in sequence (real sandboxes: root).
#
#   redis     kill -9 of Redis, restarted from its AOF at once -> control
#             back (worker.redis_back), and -> a held wake's first byte
#   create    kill -9 of control mid-create, restarted -> the workspace
#             awake (the new control takes the job over)
#   wake      kill -9 of control mid-wake, restarted -> awake
#   engine    an engine stopped 6 s while a message waits -> the message
#             delivered, counted from the moment the engine answers again

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use Test::More ();
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis http_json poll_until tmpdir);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);
use Replicas::Workspaces qw(serve_hook);

my $redis = start_redis(aof => 1);
my $gw = start_gateway(redis => $redis, auth => 'on', wake_hold => '60s');
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);
my $repos = tmpdir() . '/repos';
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--repo-root', $repos]);
my $app = fixture_repo('app', { 'index.html' => "app\n", 'replicas.json' => serve_hook() }, $me->{org});

sub state_of { $redis->cmd('HGET', ws_key($_[0]), 'state') // '' }
sub wait_state { my ($id, $s) = @_; poll_until(60, sub { state_of($id) eq $s }) or die "$id not $s\n" }
sub create {
    my ($st, $j);
    poll_until(10, sub { ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app });
                         $st == 201 });
    return $j->{id};
}
sub report { printf "%-8s %-46s %7.0f ms\n", @_[0, 1], $_[2] * 1000 }
sub current { scalar(@{ $ctl->{pids} }) - 1 }
sub since { substr($ctl->log, $_[0]) }

my $a = create();
wait_state($a, 'awake');
$ws->page($a);
api($gw, $key, 'POST', "/v1/workspaces/$a/sleep");
wait_state($a, 'sleeping');

# redis
my $mark = length $ctl->log;
$redis->kill9;
my $t0 = time;
$redis->restart;
poll_until(30, sub { since($mark) =~ /worker\.redis_back/ }) or die "control did not come back\n";
report('redis', 'kill -9 -> control reconnected', time - $t0);
my $res;
poll_until(30, sub { $res = $ws->preview($a, 3000, timeout => 60); $res->{status} == 200 });
report('redis', 'kill -9 -> held wake served (200)', time - $t0);

# create
$mark = length $ctl->log;
my $b = create();
poll_until(30, sub { since($mark) =~ /sandbox\.created .*ws=$b/ });
$ctl->kill9(current());
$t0 = time;
$ctl->start;
wait_state($b, 'awake');
report('create', 'control kill -9 mid-create -> awake', time - $t0);

# wake
api($gw, $key, 'POST', "/v1/workspaces/$b/sleep");
wait_state($b, 'sleeping');
$mark = length $ctl->log;
api($gw, $key, 'POST', "/v1/workspaces/$b/wake");
poll_until(30, sub { since($mark) =~ /job\.start .*type=wake ws=$b/ });
$ctl->kill9(current());
$t0 = time;
$ctl->start;
wait_state($b, 'awake');
report('wake', 'control kill -9 mid-wake -> awake', time - $t0);

# engine
my $sb = $redis->cmd('HGET', ws_key($a), 'sandbox');
my @engine;
for my $p (glob '/proc/[0-9]*') {
    open my $cg, '<', "$p/cgroup" or next;
    my $in = grep { /\Q$sb\E/ } <$cg>;
    open my $cl, '<', "$p/cmdline" or next;
    my $cmd = do { local $/; <$cl> } // '';
    push @engine, (split m{/}, $p)[-1] if $in && $cmd =~ /replicas-engine\0serve/;
}
kill 'STOP', @engine;
api($gw, $key, 'POST', "/v1/workspaces/$a/messages", { text => 'bench' });
sleep 6;
kill 'CONT', @engine;
$t0 = time;
poll_until(60, sub { my $m = http_json($ws->preview($a, 3737, path => '/messages'));
                     $m && grep { $_->{text} eq 'bench' } @{ $m->{messages} } })
    or die "the message never arrived\n";
report('engine', 'engine back -> waiting message delivered', time - $t0);

$ctl->stop;
$ctl->teardown;

# the harness checks logs at the end (sanitizer reports, nginx errors)
Test::More::done_testing();
