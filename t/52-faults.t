# Faults on a running stack (one Redis with an append-only file, one
# gateway, one control, faults in sequence): Redis killed and restarted
# from its AOF (control carries on by itself, a held wake is served, a
# create cut short finishes once); control killed during a build, a
# create, a wake and a message delivery (a new control takes the job over
# at once and finishes it once); an engine that does not answer for a
# while (its message waits and is delivered once).  After each: nothing
# left behind (no extra sandbox, record, slot, namespace, mount or image
# version).  Needs root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis http_request http_json poll_until);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);
use Replicas::Workspaces qw(serve_hook);

my $redis = start_redis(aof => 1);
my $gw = start_gateway(redis => $redis, auth => 'on', wake_hold => '60s');
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);
my $repos = Replicas::Test::tmpdir() . '/repos';
# the default --reclaim-ms (30 s): a takeover must not wait for it
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--repo-root', $repos]);
my $node = $ctl->{node};

my $app = fixture_repo('app', { 'index.html' => "app\n", 'replicas.json' => serve_hook() }, $me->{org});
my $slow = fixture_repo('slow', {
    'index.html' => "slow\n",
    'replicas.json' => encode_json({
        warmHook => { commands => ['sleep 3'] },
        startHook => decode_json(serve_hook())->{startHook} }) }, $me->{org});

sub state_of { $redis->cmd('HGET', ws_key($_[0]), 'state') // '' }
sub wait_state {
    my ($id, $want, $timeout) = @_;
    poll_until($timeout // 60, sub { my $s = state_of($id); $s eq $want || $s eq 'failed' });
    return state_of($id);
}
# the gateway itself answers 503 state_unavailable for a moment after
# Redis came back (it reconnects by itself): a client retries that
sub create {
    my ($repo) = @_;
    my ($st, $j);
    poll_until(10, sub { ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo });
                         $st != 503 });
    is($st, 201, 'a workspace asked for') or diag explain $j;
    return $j->{id};
}
# the log of the worker now running, from $from (a byte offset) on
sub log_since { substr($ctl->log, $_[0]) }
sub alive { my $pid = $ctl->pid(scalar(@{ $ctl->{pids} }) - 1); $pid && kill(0, $pid) }
sub current { scalar(@{ $ctl->{pids} }) - 1 }

# what the host and Redis hold of this node's sandboxes: one per
# workspace that has one, nothing half-made, nothing else
sub nothing_left {
    my ($what, @wss) = @_;
    my %want = map { $_ => 1 } @wss;
    my @ids = @{ $redis->cmd('SMEMBERS', "replicas:node-sandboxes:$node") };
    my (%per, @bad);
    for my $id (@ids) {
        my %h = @{ $redis->cmd('HGETALL', "replicas:sandbox:$id") };
        push @bad, "$id: state $h{state}" if ($h{state} // '') eq 'creating';
        push @bad, "$id: nobody's" unless $h{workspace};
        $per{$h{workspace} // ''}++;
    }
    for my $w (@wss) {
        push @bad, "$w: $per{$w} sandboxes" if ($per{$w} // 0) != 1;
    }
    my %ids = map { $_ => 1 } @ids;
    my %slots = @{ $redis->cmd('HGETALL', "replicas:net-slots:$node:$ctl->{net}") };
    push @bad, "slot $_ of $slots{$_}: no such sandbox" for grep { !$ids{$slots{$_}} } keys %slots;
    my @ns = grep { /^\Q$ctl->{net}\E-/ } map { (split ' ')[0] } `ip netns list 2>/dev/null`;
    push @bad, scalar(@ns) . " namespaces for " . scalar(@ids) . " sandboxes" if @ns > @ids;
    open my $m, '<', '/proc/mounts' or die;
    while (my $l = <$m>) {
        my $at = (split ' ', $l)[1];
        push @bad, "mount $at" if $at =~ m{^\Q$ctl->{home}\E/sandboxes/([^/]+)/} && !$ids{$1};
    }
    for my $img (glob "$ctl->{home}/images/*") {
        my @v = grep { !/\./ } map { s{.*/}{}r } glob "$img/*";
        push @bad, "image $img: versions @v" if @v != 1;
    }
    ok(!@bad, "$what: nothing left behind") or diag explain \@bad;
}

# --- Redis killed, restarted from its AOF: control carries on ---------------------
my $a = create($app);
is(wait_state($a, 'awake'), 'awake', 'A is awake') or diag $ctl->log;
# its dev server up: the sleep remembers its port, the wake waits for it
is($ws->page($a)->{body}, "app\n", 'A serves its preview');
my ($st) = api($gw, $key, 'POST', "/v1/workspaces/$a/sleep");
is(wait_state($a, 'sleeping'), 'sleeping', 'A sleeps');

my $mark = length $ctl->log;
$redis->kill9;
sleep 0.5;
$redis->restart;
ok(poll_until(20, sub { log_since($mark) =~ /worker\.redis_back/ }),
   'control waits for Redis and reconnects by itself') or diag log_since($mark);
ok(alive(), 'it did not exit');
my $res;
poll_until(20, sub { $res = $ws->preview($a, 3000, timeout => 60);
                     !($res->{status} == 503 && $res->{body} =~ /state_unavailable/) });
is($res->{status}, 200, 'a request to the sleeping workspace is held through the wake, then served')
    or diag explain $res;
is(state_of($a), 'awake', 'A is awake again');

# --- Redis killed in the middle of a create ----------------------------------------
$mark = length $ctl->log;
my $b = create($app);
ok(poll_until(30, sub { log_since($mark) =~ /sandbox\.created .*ws=$b/ }), 'B is being made');
$redis->kill9;
sleep 0.3;
$redis->restart;
is(wait_state($b, 'awake', 60), 'awake', 'the create is redone once Redis is back') or diag log_since($mark);
is($ws->page($b)->{body}, "app\n", 'B serves its preview');
unlike(log_since($mark) =~ s/worker\.redis_back.*//sr, qr/job\.done .*ws=$b/,
       'no job.done logged while Redis was away');
nothing_left('Redis killed mid-create', $a, $b);

# --- control killed during a build (the warm hook) ---------------------------------
$mark = length $ctl->log;
my $c = create($slow);
ok(poll_until(30, sub { log_since($mark) =~ /image\.warm_hook/ }), 'C\'s image is being built');
$ctl->kill9(current());
my $t0 = time;
$ctl->start;
ok(poll_until(5, sub { log_since($mark) =~ /job\.start .*type=create ws=$c reclaimed=1/ }),
   'a restarted control takes the create over at once') or diag log_since($mark);
note(sprintf('taken over after %.1f s', time - $t0));
is(wait_state($c, 'awake', 60), 'awake', 'and finishes it') or diag log_since($mark);
is($ws->page($c)->{body}, "slow\n", 'C serves its preview');
nothing_left('control killed mid-build', $a, $b, $c);

# --- control killed during a create (after its sandbox was made) -------------------
$mark = length $ctl->log;
my $d = create($app);
ok(poll_until(30, sub { log_since($mark) =~ /sandbox\.created .*ws=$d/ }), 'D\'s sandbox is made');
$ctl->kill9(current());
$ctl->start;
is(wait_state($d, 'awake', 30), 'awake', 'a restarted control finishes the create') or diag log_since($mark);
is($ws->page($d)->{body}, "app\n", 'D serves its preview');
nothing_left('control killed mid-create', $a, $b, $c, $d);

# --- control killed during a wake --------------------------------------------------
($st) = api($gw, $key, 'POST', "/v1/workspaces/$d/sleep");
is(wait_state($d, 'sleeping'), 'sleeping', 'D sleeps');
$mark = length $ctl->log;
($st) = api($gw, $key, 'POST', "/v1/workspaces/$d/wake");
ok(poll_until(30, sub { log_since($mark) =~ /job\.start .*type=wake ws=$d/ }), 'D is waking');
$ctl->kill9(current());
$ctl->start;
$res = $ws->preview($d, 3000, timeout => 60);
is($res->{status}, 200, 'a request held through the wake is served');
is(wait_state($d, 'awake'), 'awake', 'D is awake');
nothing_left('control killed mid-wake', $a, $b, $c, $d);

# --- control killed during a message delivery --------------------------------------
sub engine_messages {
    my ($id) = @_;
    my $m = http_json($ws->preview($id, 3737, path => '/messages'));
    return $m && ref $m->{messages} eq 'ARRAY' ? $m->{messages} : undef;
}
$mark = length $ctl->log;
my ($st2, $j) = api($gw, $key, 'POST', "/v1/workspaces/$d/messages", { text => 'through a crash' });
is($st2, 202, 'a message to D');
poll_until(10, sub { log_since($mark) =~ /job\.start .*type=message ws=$d/ });
$ctl->kill9(current());
$ctl->start;
my $got;
ok(poll_until(30, sub { ($got = engine_messages($d)) && grep { $_->{text} eq 'through a crash' } @$got }),
   'the message arrives');
sleep 1;
$got = engine_messages($d);
is(scalar(grep { $_->{text} eq 'through a crash' } @$got), 1, 'once');
ok(poll_until(10, sub { $redis->cmd('LLEN', "replicas:ws-messages:$d") == 0 }), 'none left queued');

# --- an engine that does not answer for a while -------------------------------------
# its process stopped: connections are taken, nothing answers
my $sb = $redis->cmd('HGET', ws_key($a), 'sandbox');
my @engine;
for my $p (glob '/proc/[0-9]*') {
    open my $cg, '<', "$p/cgroup" or next;
    my $in = grep { /\Q$sb\E/ } <$cg>;
    open my $cl, '<', "$p/cmdline" or next;
    my $cmd = do { local $/; <$cl> } // '';
    push @engine, (split m{/}, $p)[-1] if $in && $cmd =~ /replicas-engine\0serve/;
}
ok(@engine, "A's engine found (@engine)");
kill 'STOP', @engine;
$mark = length $ctl->log;
($st2) = api($gw, $key, 'POST', "/v1/workspaces/$a/messages", { text => 'while away' });
is($st2, 202, 'a message to A while its engine does not answer');
ok(poll_until(30, sub { log_since($mark) =~ /ws\.deliver_failed .*ws=$a/ }), 'the delivery fails');
sleep 6;
kill 'CONT', @engine;
ok(poll_until(20, sub { ($got = engine_messages($a)) && grep { $_->{text} eq 'while away' } @$got }),
   'once the engine answers again, the message is delivered (tried again with backoff)')
    or diag log_since($mark);
sleep 1;
$got = engine_messages($a);
is(scalar(grep { $_->{text} eq 'while away' } @$got), 1, 'once');
unlike(log_since($mark), qr/job\.abandoned/, 'never abandoned');
ok(poll_until(10, sub { $redis->cmd('LLEN', "replicas:ws-messages:$a") == 0 }), 'none left queued');
nothing_left('at the end', $a, $b, $c, $d);

$ctl->stop;
$ctl->teardown;
done_testing;
