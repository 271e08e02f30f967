# Sleep is light first: the sandbox's processes are frozen in their cgroup
# (memory, mounts and sockets kept), and a wake thaws them: the same engine,
# the same dev server, nothing started again, a held request served; a
# message sent to the frozen workspace is delivered after the thaw, once.
# After --deep-sleep-after the frozen sandbox is stopped (no process, disk
# unmounted) and the next wake starts it afresh.  The other tests run with
# --deep-sleep-after 0 (Control.pm): a sleep that stops at once.  Needs root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(start_redis http_json poll_until);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Workspaces;
use Replicas::Control qw(start_control fixture_repo is_mount);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', wake_hold => '60s', rate => 100000);
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--memory', 256, '--deep-sleep-after', 6,
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);

# a dev server that writes when it started: the same after a thaw, new
# after a start
my $app = fixture_repo('frozen', { 'index.html' => "frozen app\n",
    'replicas.json' => encode_json({ startHook => { ports => [3000], commands => [
        'sh -c "date +%s%N > started.txt; exec python3 -m http.server 3000 --bind 0.0.0.0" >/dev/null 2>&1 &'] } }) },
    $me->{org});

my $v2 = -e '/sys/fs/cgroup/cgroup.controllers';

sub sandbox { $redis->cmd('HGET', ws_key($_[0]), 'sandbox') }

# the engine of the workspace's sandbox
sub engine_pid { Replicas::Control::engine_pid(sandbox($_[0])) }

# the sandbox's freezer, as the kernel has it
sub freezer {
    my ($id) = @_;
    my $sb = sandbox($id) // return '';
    my $f = $v2 ? "/sys/fs/cgroup/replicas-$ctl->{net}/$sb/cgroup.freeze"
                : "/sys/fs/cgroup/freezer/replicas-$ctl->{net}/$sb/freezer.state";
    open my $fh, '<', $f or return '';
    my $s = <$fh> // '';
    chomp $s;
    return $s;
}



sub started { my $r = $ws->preview($_[0], 3000, path => '/started.txt', timeout => 60);
              $r->{status} == 200 ? $r->{body} : "status $r->{status}" }

my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app });
is($st, 201, 'created');
my $id = $j->{id};
is($ws->wait_state($id, 'awake'), 'awake', 'awake') or diag $ctl->log;
my $first = started($id);
like($first, qr/^\d+$/, "its dev server serves ($first)");
my $pid = engine_pid($id);
ok($pid, "its engine runs (pid $pid)");
my $sbid = sandbox($id);
my $dir = "$ctl->{home}/sandboxes/$sbid";

# --- a light sleep: frozen, everything kept ------------------------------------
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'it sleeps') or diag $ctl->log;
is($redis->cmd('HGET', ws_key($id), 'sleep'), 'frozen', 'its record says frozen');
like(freezer($id), $v2 ? qr/^1$/ : qr/^FROZEN|FREEZING$/, 'its cgroup is frozen (' . freezer($id) . ')');
ok(kill(0, $pid), 'its engine is still there');
ok(is_mount("$dir/disk"), 'its disk stays mounted');

# a message to the frozen workspace: taken now, delivered after the thaw
($st) = api($gw, $key, 'POST', "/v1/workspaces/$id/messages", { text => 'while frozen' });
is($st, 202, 'a message sent while it is frozen is taken');

# --- the wake is a thaw ----------------------------------------------------------
is($ws->wait_state($id, 'awake'), 'awake', 'the message woke it') or diag $ctl->log;
is(started($id), $first, 'the same dev server answers: nothing was started again');
is(engine_pid($id), $pid, 'the same engine');
like(freezer($id), $v2 ? qr/^0$/ : qr/^THAWED$/, 'its cgroup thawed');
like($ctl->log, qr/sandbox\.thawed sandbox=\S+ ws=$id ms=\d+/, 'control logged the thaw');
my @boots = $ctl->log =~ /sandbox\.healthy sandbox=\S+ ws=$id /g;
is(scalar @boots, 1, 'and started no engine but the first');
is($redis->cmd('HGET', ws_key($id), 'sleep'), undef, 'its record says nothing of sleep now');
my $msgs;
poll_until(15, sub { $msgs = http_json($ws->preview($id, 3737, path => '/messages'));
                     $msgs && grep { $_->{text} eq 'while frozen' } @{ $msgs->{messages} } });
is(scalar(grep { $_->{text} eq 'while frozen' } @{ $msgs->{messages} // [] }), 1,
   'the message is delivered, once') or diag explain $msgs;

# --- a request held through a thaw -----------------------------------------------
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'asleep again');

# --- what it shows asleep, without waking (control/rc_history.c) --------------------
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id/history");
is($st, 200, 'its chat history is read while it sleeps') or diag explain $j;
is($j->{state}, 'sleeping', 'the answer says it sleeps');
ok($j->{last_id} && @{ $j->{events} // [] }, "the engine's events as of the sleep (last $j->{last_id})");
is(scalar(grep { $_->{type} eq 'message.received' && ($_->{payload}{text} // '') eq 'while frozen' }
                @{ $j->{events} // [] }), 1, 'the message delivered before it is there');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id");
my ($repo) = @{ $j->{git}{repositories} // [] };
like($repo->{branch} // '', qr{^replicas/}, "its branch, saved at the sleep ($repo->{branch})")
    or diag explain $j->{git};
ok($j->{git}{at}, 'and when');
is_deeply([sort keys %$repo], [grep { exists $repo->{$_} } qw(ahead branch head name pullRequest)],
          'in the kept shape, as the engine watch writes it (GET /git\'s base and dirty left out)')
    or diag explain $repo;
is($ws->state_of($id), 'sleeping', 'reading them did not wake it');
is($redis->cmd('HGET', ws_key($id), 'sleep'), 'frozen', 'still frozen');
my $res = $ws->preview($id, 3000, timeout => 60);
is($res->{status}, 200, 'a request held through the thaw is served') or diag explain $res;
is($res->{body}, "frozen app\n", "with the app's body");

# --- deep sleep: stopped after --deep-sleep-after ----------------------------------
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'asleep once more');
ok(poll_until(30, sub { ($redis->cmd('HGET', ws_key($id), 'sleep') // '') eq 'stopped' }),
   'after --deep-sleep-after its record says stopped') or diag $ctl->log;
like($ctl->log, qr/ws\.deep_sleep ws=$id/, 'control logged the deep sleep');
ok(poll_until(10, sub { !kill(0, $pid) }), 'its engine is gone');
ok(!is_mount("$dir/disk"), 'its disk unmounted');
is($ws->state_of($id), 'sleeping', 'still sleeping');

# --- a wake from deep sleep starts it again ------------------------------------------
my $again = started($id);
like($again, qr/^\d+$/, 'a request wakes it: the dev server serves');
isnt($again, $first, 'a new dev server: the start hook ran again');
my $new = engine_pid($id);
ok($new && $new != $pid, 'a new engine');
is($redis->cmd('HGET', ws_key($id), 'sleep'), undef, 'its record says nothing of sleep');

# --- delete from a light sleep: nothing left -----------------------------------------
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'asleep, frozen');
is($redis->cmd('HGET', ws_key($id), 'sleep'), 'frozen', 'frozen');
api($gw, $key, 'DELETE', "/v1/workspaces/$id");
ok(poll_until(30, sub { !-d $dir }), 'deleted: its disk is gone') or diag $ctl->log;
ok(poll_until(10, sub { !kill(0, $new) }), 'its frozen processes are gone');
my $cg = $v2 ? "/sys/fs/cgroup/replicas-$ctl->{net}/$sbid"
             : "/sys/fs/cgroup/freezer/replicas-$ctl->{net}/$sbid";
ok(!-d $cg, "and its cgroup ($cg)");
is($redis->cmd('EXISTS', "replicas:ws-history:$id"), 0, 'and its saved history');

done_testing;
