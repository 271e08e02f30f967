# The engine is watched: control probes every awake workspace's engine
# off its job loop; an engine killed (-9) or hung (SIGSTOP) is restarted on
# the same disk, shown in the workspace's health, and a message sent
# meanwhile is delivered once; the third failure in five minutes fails the
# workspace with the reason.  Readiness: a request held through a create
# or a wake reaches the app, never 502, when the start hook declares its
# port.  One real workspace, faults in sequence.  Needs root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep);
use Replicas::Test qw(start_redis http_json poll_until);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Workspaces;
use Replicas::Control qw(start_control fixture_repo);


my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', wake_hold => '60s');
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--memory', 256,
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);

# a dev server that takes a moment to listen, declared by the start hook
my $app = fixture_repo('watched', { 'index.html' => "watched app\n",
    'replicas.json' => encode_json({ startHook => { ports => [3000], commands => [
        'sh -c "sleep 1; exec python3 -m http.server 3000 --bind 0.0.0.0" >/dev/null 2>&1 &'] } }) }, $me->{org});

# the engine of the workspace's sandbox
sub engine_pid { Replicas::Control::engine_pid($redis->cmd('HGET', ws_key($_[0]), 'sandbox')) }

sub view { my (undef, $j) = api($gw, $key, 'GET', "/v1/workspaces/$_[0]"); $j // {} }


# --- readiness: a request held through the create reaches the app -------------
my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app });
is($st, 201, 'created');
my $id = $j->{id};
my $res = $ws->preview($id, 3000, timeout => 60);
is($res->{status}, 200, 'a request held through the create is served, not 502')
    or diag explain $res, $ctl->log;
is($res->{body}, "watched app\n", "with the app's body");
is($ws->state_of($id), 'awake', 'awake');
is(view($id)->{health}{engine}, 'ok', 'its health: engine ok');
ok(poll_until(10, sub { (view($id)->{health}{desktop} // '') eq 'off' }),
   "and the desktop's state as the engine reports it") or diag explain view($id);

# --- and through a wake ----------------------------------------------------------
($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'asleep');
$res = $ws->preview($id, 3000, timeout => 60);
is($res->{status}, 200, 'a request held through the wake is served, not 502')
    or diag explain $res;
is($res->{body}, "watched app\n", "with the app's body");

# --- a stale verdict: a restart asked for an engine that answers now ---------------
# (the watch's pass looked at the sandbox while a sleep stopped it, and a
# wake started it again before the job ran: its turn must not be cut)
my $pid = engine_pid($id);
ok($pid, "the engine runs (pid $pid)");
$redis->cmd('XADD', 'replicas:jobs', '*', 'type', 'restart', 'workspace', $id,
            'reason', 'a stale verdict', 'at', time);
ok(poll_until(15, sub { $ctl->log =~ /engine\.restart_skipped ws=$id reason="a stale verdict"/ }),
   'a restart asked for an engine that answers is skipped') or diag $ctl->log;
is(engine_pid($id), $pid, 'the same engine process');
is(view($id)->{health}{restarts} // 0, 0, 'no restart counted');
is(view($id)->{health}{engine}, 'ok', 'its health is ok');

# --- kill -9 of the engine: restarted, the message sent meanwhile delivered once ---
kill 'KILL', $pid;
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'while down' });
is($st, 202, 'a message sent while the engine is down is taken');
ok(poll_until(15, sub { my $h = view($id)->{health} // {};
                        ($h->{restarts} // 0) == 1 && ($h->{engine} // '') eq 'ok' }),
   'the engine is restarted') or diag explain(view($id)), $ctl->log;
like(view($id)->{health}{reason}, qr/engine stopped/, 'its health says why');
is($ws->state_of($id), 'awake', 'the workspace stayed awake');
like($ctl->log, qr/engine\.restart ws=$id failures=1 /, 'control logged the restart');
my $new = engine_pid($id);
ok($new && $new != $pid, 'a new engine process');
is($ws->page($id)->{body}, "watched app\n", 'the start hook ran again: the app is back');
my $msgs;
poll_until(15, sub { $msgs = http_json($ws->preview($id, 3737, path => '/messages'));
                     $msgs && grep { $_->{text} eq 'while down' } @{ $msgs->{messages} } });
is(scalar(grep { $_->{text} eq 'while down' } @{ $msgs->{messages} // [] }), 1,
   'the message sent meanwhile is delivered, once') or diag explain $msgs;
ok(poll_until(10, sub { $redis->cmd('LLEN', "replicas:ws-messages:$id") == 0 }), 'none left queued');

# --- a hung engine (SIGSTOP) ------------------------------------------------------
$pid = engine_pid($id);
kill 'STOP', $pid;
ok(poll_until(15, sub { my $h = view($id)->{health} // {};
                        ($h->{restarts} // 0) == 2 && ($h->{engine} // '') eq 'ok' }),
   'a hung engine is restarted') or diag explain(view($id)), $ctl->log;
like(view($id)->{health}{reason}, qr/hung/, 'its health says it hung');
ok(!kill(0, $pid) || (do { local (@ARGV, $/) = "/proc/$pid/stat"; <> } // '') =~ /^\d+ \(.*\) Z/,
   'the hung one is gone');
is($ws->page($id)->{body}, "watched app\n", 'the app is back');

# --- the third failure in five minutes fails the workspace ----------------------------
kill 'KILL', engine_pid($id);
is($ws->wait_state($id, 'failed', 20), 'failed', 'a third failure: failed')
    or diag $ctl->log;
like(view($id)->{reason}, qr/engine failed 3 times in 5 minutes.*engine stopped/,
     'with the reason');
is(view($id)->{health}{engine}, 'failed', 'and its health says so');

done_testing;
