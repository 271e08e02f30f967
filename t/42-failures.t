# When things go wrong with real sandboxes: a workspace that goes over its
# memory limit fails with the reason, and of two control workers sharing
# one job stream, the one killed in the middle of a create has its job
# taken over by the other, which finishes it once; idle workspaces sleep,
# busy ones (an engine running a hook) stay awake.  Needs root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX ();
use Replicas::Test qw(start_redis http_request poll_until);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $me = new_identity($redis);
my $key = $me->{key};
my $repos = Replicas::Test::tmpdir() . '/repos';

sub state_of { $redis->cmd('HGET', ws_key($_[0]), 'state') // '' }
sub wait_state {
    my ($id, $want, $timeout) = @_;
    poll_until($timeout // 60, sub { my $s = state_of($id); $s eq $want || $s eq 'failed' });
    return state_of($id);
}

# --- over the memory limit: failed, with the reason ---------------------------------
{
    my $ctl = start_control(redis => $redis, gateway => $gw,
                            args => ['--pool-size', 0, '--memory', 96, '--repo-root', $repos]);
    my $hog = fixture_repo('hog', { 'replicas.json' => encode_json({ startHook => { commands => [
        'python3 -c "import time; b = bytearray(400 * 1024 * 1024); time.sleep(60)"'] } }) }, $me->{org});
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $hog });
    my $id = $j->{id};
    ok(poll_until(60, sub { state_of($id) eq 'awake' || state_of($id) eq 'failed' }),
       'the workspace starts') or diag $ctl->log;
    is(wait_state($id, 'failed'), 'failed', 'its start hook goes over 96 MiB: failed')
        or diag $ctl->log;
    like($redis->cmd('HGET', ws_key($id), 'reason') // '', qr/out of memory.*96 MiB/,
         'the reason says so');
    ($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id");
    is($j->{state}, 'failed', 'the API shows it failed');
    like($ctl->log, qr/sandbox\.died .*ws=$id oom_kills=[1-9]/, 'the worker logged the OOM kill');
    $ctl->stop;
    $ctl->teardown;
}

# --- two workers, one killed mid-job ---------------------------------------------------
{
    my $ctl = start_control(redis => $redis, gateway => $gw, workers => 2,
                            args => ['--pool-size', 0, '--reclaim-ms', 2000,
                                     '--repo-root', $repos]);
    # a warm hook slow enough to be killed during
    my $slow = fixture_repo('slow', {
        'index.html' => "slow but there\n",
        'replicas.json' => encode_json({
            warmHook => { commands => ['sleep 3'] },
            startHook => { commands => ['python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &'] } }) }, $me->{org});
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $slow });
    my $id = $j->{id};

    # whoever took the job: killed while its warm hook runs
    my $victim;
    poll_until(30, sub {
        for my $i (0, 1) {
            open my $fh, '<', $ctl->{logs}[$i] or next;
            local $/;
            my $log = <$fh>;
            if ($log =~ /job\.start .*type=create ws=$id/ && $log =~ /image\.warm_hook/) {
                $victim = $i;
                return 1;
            }
        }
        return 0;
    });
    ok(defined $victim, "worker $victim took the create and runs the warm hook");
    $ctl->kill9($victim);
    my $other = 1 - $victim;

    is(wait_state($id, 'awake', 90), 'awake', 'the other worker takes the job over and finishes it')
        or diag $ctl->log;
    my $log = do { open my $fh, '<', $ctl->{logs}[$other] or die; local $/; <$fh> };
    like($log, qr/job\.start .*type=create ws=$id reclaimed=1/, 'as a reclaimed job');
    like($log, qr/job\.done .*type=create ws=$id/, 'done there');
    my $res;
    poll_until(30, sub {
        $res = http_request(port => $gw->{port}, host => "3000-$id.$gw->{domain}",
                            headers => [['Authorization', "Bearer $key"]]);
        $res->{status} == 200 });
    is($res->{body}, "slow but there\n", 'and the workspace serves its preview');

    # acknowledged once the job ends, just after the state it wrote
    ok(poll_until(10, sub { $redis->cmd('XPENDING', 'replicas:jobs', 'control')->[0] == 0 }),
       'no job is left pending');
    my @mine = grep { ($redis->cmd('HGET', "replicas:sandbox:$_", 'workspace') // '') eq $id }
               @{ $redis->cmd('SMEMBERS', "replicas:node-sandboxes:$ctl->{node}") };
    is(scalar @mine, 1, 'one sandbox for the workspace, not two');
    # its workers would take the next test's jobs
    $ctl->stop;
    $ctl->teardown;
}

# --- idle: auto-sleep, then auto-delete -------------------------------------------------
{
    my $ctl = start_control(redis => $redis, gateway => $gw,
                            args => ['--pool-size', 0, '--idle-sleep', 3, '--delete-after', 4,
                                     '--repo-root', $repos]);
    my $idle = fixture_repo('idle', { 'index.html' => "idle\n" }, $me->{org});
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $idle });
    my $id = $j->{id};
    # watched in Redis, not through the API: API calls are activity
    is(wait_state($id, 'awake'), 'awake', 'a workspace nobody uses') or diag $ctl->log;
    is(wait_state($id, 'sleeping', 30), 'sleeping', 'sleeps after --idle-sleep without activity')
        or diag $ctl->log;
    ok(poll_until(30, sub { state_of($id) eq 'deleted' }),
       'and is deleted after --delete-after asleep') or diag $ctl->log;
    $ctl->stop;
    $ctl->teardown;
}

# --- busy: an engine at work keeps its workspace awake past --idle-sleep -----------------
{
    my $ctl = start_control(redis => $redis, gateway => $gw,
                            args => ['--pool-size', 0, '--idle-sleep', 3, '--repo-root', $repos]);
    # a start hook that runs until the test ends it (its sleep is found by
    # its argument); nobody touches the workspace through the gateway
    my $busy = fixture_repo('busy', { 'replicas.json' => encode_json({ startHook => { commands => [
        'sleep 4242'] } }) }, $me->{org});
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $busy });
    my $id = $j->{id};
    is(wait_state($id, 'awake'), 'awake', 'a workspace whose start hook runs on') or diag $ctl->log;
    my $rec = { @{ $redis->cmd('HGETALL', ws_key($id)) } };
    # the engine asked directly (host to sandbox), not through the gateway
    my $healthz = sub {
        my $out = qx{curl -s -m 2 http://$rec->{addr}:3737/healthz};
        return eval { decode_json($out) } // {};
    };
    ok(poll_until(10, sub { $healthz->()->{busy} }), 'its engine says it is busy');

    # four times --idle-sleep (two idle passes at least), watched in Redis
    my $t0 = time;
    my $left = '';
    while (time - $t0 < 12) {
        my $s = state_of($id);
        if ($s ne 'awake') { $left = $s; last }
        select(undef, undef, undef, 0.5);
    }
    is($left, '', 'still awake after four times --idle-sleep: the running hook is activity')
        or diag $ctl->log;
    ok($healthz->()->{busy}, 'its hook still running all along');

    # the hook ends: idle from then on
    my $ns = "$ctl->{net}-$rec->{sandbox}";
    my @hook = grep { my $c = do { local (@ARGV, $/) = "/proc/$_/cmdline"; <> } // '';
                      $c eq "sleep\0" . "4242\0" } split ' ', `ip netns pids $ns`;
    is(scalar @hook, 1, "the hook's sleep, in the sandbox") or diag `ip netns pids $ns`;
    kill 'TERM', @hook;
    ok(poll_until(10, sub { !$healthz->()->{busy} }), 'ended: the engine is idle');
    is(wait_state($id, 'sleeping', 30), 'sleeping', 'and the workspace sleeps after --idle-sleep')
        or diag $ctl->log;
    $ctl->stop;
    $ctl->teardown;
}

# --- a sandbox that cannot start: bwrap's own words are the reason ----------------------
{
    # an "engine" bwrap cannot execute (a folder: it passes control's check)
    my $bad = Replicas::Test::tmpdir() . '/not-an-engine';
    mkdir $bad;
    my $ctl = start_control(redis => $redis, gateway => $gw,
                            args => ['--pool-size', 0, '--repo-root', $repos, '--engine', $bad]);
    my $app = fixture_repo('cannot', { 'index.html' => "never served\n" }, $me->{org});
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app });
    my $id = $j->{id};
    is(wait_state($id, 'failed', 90), 'failed', 'a workspace whose sandbox cannot start fails')
        or diag $ctl->log;
    like($redis->cmd('HGET', ws_key($id), 'reason') // '',
         qr/^the sandbox could not start: bwrap: execvp \S+: Permission denied/,
         "with bwrap's error as the reason, not a timeout");
    like($ctl->log, qr/ws\.state ws=$id state=failed reason="the sandbox could not start: bwrap: /,
         'and in the log');
    $ctl->stop;
    $ctl->teardown;
}

# --- a worker started after a kill -9 cleans what the dead one left -----------------------
{
    my $ctl = start_control(redis => $redis, gateway => $gw,
                            args => ['--pool-size', 0, '--repo-root', $repos]);
    my $app = fixture_repo('kept', { 'index.html' => "kept\n",
        'replicas.json' => encode_json({ startHook => { commands => [
            'python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &'] } }) }, $me->{org});
    my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app });
    my $id = $j->{id};
    is(wait_state($id, 'awake'), 'awake', 'a workspace runs') or diag $ctl->log;

    # what a worker killed in the middle of making a sandbox leaves: a
    # namespace with its veth on the bridge, a mounted disk and a cgroup
    # with a process, of a sandbox no record names
    my ($net, $home) = ($ctl->{net}, $ctl->{home});
    my $stale = 'zzstale00001';
    my $merged = "$home/sandboxes/$stale/merged";
    my $cg = (-e '/sys/fs/cgroup/cgroup.controllers' ? '/sys/fs/cgroup'
              : '/sys/fs/cgroup/memory') . "/replicas-$net/$stale";
    system("ip netns add $net-$stale && ip link add v$stale type veth peer name p$stale"
           . " && ip link set p$stale netns $net-$stale && ip link set v$stale master ${net}br") == 0
        or BAIL_OUT('cannot make a stale namespace');
    system("mkdir -p $merged && mount -t tmpfs stale $merged") == 0 or BAIL_OUT('cannot mount');
    mkdir $cg or BAIL_OUT("cannot make $cg: $!");
    my $sleeper = fork // die;
    if ($sleeper == 0) {
        open my $fh, '>', "$cg/cgroup.procs" or POSIX::_exit(1);
        print $fh "$$\n";
        close $fh;
        exec 'sleep', '300';
    }
    ok(poll_until(5, sub { `cat $cg/cgroup.procs` =~ /\d/ }), 'a process in the stale cgroup');

    $ctl->kill9(0);
    $ctl->start;
    ok(poll_until(20, sub { waitpid($sleeper, POSIX::WNOHANG()) == $sleeper }),
       "the new worker stops the stale sandbox's processes") or diag $ctl->log;
    ok(!-d $cg, 'removes its cgroup');
    my $mounts = do { local (@ARGV, $/) = '/proc/self/mountinfo'; <> };
    unlike($mounts, qr{\Q$merged\E}, 'unmounts its disk');
    unlike(`ip netns list`, qr/\Q$net-$stale\E/, 'deletes its network namespace');
    isnt(system("ip link show v$stale >/dev/null 2>&1"), 0, 'and its veth');
    like($ctl->log, qr/sandbox\.stale sandbox=$stale/, 'and says so');
    is(state_of($id), 'awake', 'the recorded workspace is left alone');
    my $res = http_request(port => $gw->{port}, host => "3000-$id.$gw->{domain}",
                           headers => [['Authorization', "Bearer $key"]]);
    is($res->{body}, "kept\n", 'and still serves');
    $ctl->stop;
    $ctl->teardown;
}

done_testing();
