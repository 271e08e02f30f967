# The workspace's desktop, for real: control runs engines with `--desktop
# on`, the engine starts Xvfb, openbox, x11vnc (the workspace's loopback
# only) and websockify/noVNC on 6080 inside the sandbox and registers 6080
# with the platform as an authenticated preview.  Through the gateway:
# no credentials, no desktop; with them noVNC's page, the RFB handshake
# over the WebSocket, and a headless Chromium that logs in and sees
# noVNC's canvas connected to the 1920x1080 screen.  Hooks get DISPLAY,
# and Chromium runs on it inside the sandbox.  Root.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use Replicas::Test qw(objs_dir start_redis http_request http_json poll_until free_port
                      repo_root);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api login_link);
use Replicas::Control qw(start_control fixture_repo);
use Replicas::Workspaces;

my $chromium = '/usr/bin/chromium';
my $modules = objs_dir() . '/node/node_modules';
# prerequisites are installed by auto/test (auto/lib.sh): missing = failure
for my $bin (qw(/usr/bin/Xvfb /usr/bin/openbox /usr/bin/x11vnc /usr/bin/websockify),
             $chromium) {
    ok(-x $bin, "$bin is installed") or BAIL_OUT("$bin missing: run ./auto/test");
}
ok(-f '/usr/share/novnc/vnc.html', 'noVNC is installed') or BAIL_OUT('novnc missing: run ./auto/test');
ok(-d "$modules/playwright-core", 'playwright-core is installed')
    or BAIL_OUT('playwright-core missing: run ./auto/test');

my $redis = start_redis();
my $gport = free_port();
my $domain = $Replicas::Gateway::DOMAIN;

# as t/45: control first (its bridge), then the gateway on it too, so the
# engine reaches the API
my $ctl = start_control(redis => $redis,
    args => ['--pool-size', 0, '--allow-port', $gport, '--desktop', 'on',
             '--repo-root', Replicas::Test::tmpdir() . '/repos']);
(my $host = $ctl->{range}) =~ s{\.0/\d+$}{.1};
$ctl->stop;
push @{ $ctl->{args} }, '--platform-url', "http://$host:$gport",
                        '--platform-host', "$domain:$gport";
$ctl->start;
my $gw = start_gateway(redis => $redis, port => $gport, auth => 'on', also_listen => [$host]);
my $me = new_identity($redis);
my $key = $me->{key};
my $ws = Replicas::Workspaces->new($gw, $key);

# the hook records what an agent would find: DISPLAY, and whether Chromium
# runs on it with and without its own sandbox (timeout's 124: still running)
my $chrome = 'timeout 15 chromium %s --user-data-dir=/tmp/c%s about:blank >/tmp/c%s.log 2>&1;'
           . ' echo $? > chromium-%s.txt';
my $repo = fixture_repo('site', {
    'index.html' => "desk\n",
    'replicas.json' => encode_json({ startHook => { commands => [
        'echo "$DISPLAY" > display.txt',
        '(' . sprintf($chrome, '--no-sandbox', 1, 1, 'nosandbox') . ') >/dev/null 2>&1 &',
        '(' . sprintf($chrome, '', 2, 2, 'sandbox') . ') >/dev/null 2>&1 &',
        # what the agent's instructions suggest for a screenshot
        '(timeout 60 chromium --no-sandbox --headless=new --user-data-dir=/tmp/c3'
        . ' --screenshot=/tmp/shot.png --window-size=800,600 http://127.0.0.1:6080/vnc.html'
        . ' >/tmp/c3.log 2>&1; test -s /tmp/shot.png && echo made > shot.txt || echo none > shot.txt) &',
        # until websockify listens (bounded)
        'for i in $(seq 60); do replicas computer info > computer.txt 2>&1;'
        . ' grep -q "^desktop *running.*http" computer.txt && break; sleep 1; done &'] } }) }, $me->{org});

my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $repo });
my $id = $j->{id};
is($ws->wait_state($id, 'awake'), 'awake', "workspace $id") or diag $ctl->log;
my $sb = $redis->cmd('HGET', ws_key($id), 'sandbox');
my $dir = "$ctl->{home}/sandboxes/$sb/merged/site";
my $state = "$ctl->{home}/sandboxes/$sb/merged/.replicas";
sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; return <$fh> // '' }

# --- the engine: /healthz, the preview ----------------------------------------
my $health;
ok(poll_until(60, sub {
    my $res = $ws->preview($id, 3737, path => '/healthz');
    $health = http_json($res) // {};
    ($health->{desktop}{state} // '') eq 'running' && defined $health->{desktop}{url}
        && grep { $_ == 6080 } @{ $health->{ports} // [] } }),
   '/healthz: the desktop runs and is registered')
    or diag explain($health), slurp("$state/desktop.log"), $ctl->log;
is($health->{desktop}{display}, ':1', 'on display :1');
is($health->{desktop}{port}, 6080, 'served on 6080');
is($health->{desktop}{url}, "http://6080-$id.$domain:$gport/", 'at its preview URL');

($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id/previews");
is_deeply([ map { "$_->{port} $_->{visibility}" } grep { $_->{port} == 6080 } @{ $j->{previews} } ],
          ['6080 authenticated'], 'the platform has 6080 as an authenticated preview')
    or diag explain $j;

# --- through the gateway ----------------------------------------------------------
my $dhost = "6080-$id.$domain:$gport";
my $res = http_request(port => $gport, host => $dhost, path => '/vnc.html');
is($res->{status}, 401, 'no credentials: 401');
$res = http_request(port => $gport, host => $dhost, path => '/vnc.html',
                    headers => [['Accept', 'text/html']]);
is($res->{status}, 302, 'a browser without a login is sent to log in');
like($res->{headers}{location} // '', qr{/auth/preview\?to=http%3A%2F%2F6080-\Q$id\E\.},
     'through the main domain, carrying where it was going');
$res = http_request(port => $gport, host => $dhost, path => '/vnc.html',
                    headers => [['Authorization', "Bearer $key"]]);
is($res->{status}, 200, 'with a key: noVNC\'s page');
like($res->{body}, qr/noVNC/, 'it is noVNC');

my $w = Replicas::Test::ws_connect(port => $gport, host => $dhost, path => '/websockify',
    headers => [['Authorization', "Bearer $key"], ['Origin', "http://$dhost"],
                ['Sec-WebSocket-Protocol', 'binary']]);
is($w->status, 101, 'the WebSocket to the desktop opens through the gateway') or diag explain $w;
my $hello = $w->recv_text(15) // '';
like($hello, qr/^RFB 003\.00\d\n/, "and the VNC server greets it ($hello)");
$w->close;
$w = Replicas::Test::ws_connect(port => $gport, host => $dhost, path => '/websockify',
    headers => [['Origin', "http://$dhost"]]);
is($w->status, 401, 'without credentials: 401');
$w = Replicas::Test::ws_connect(port => $gport, host => $dhost, path => '/websockify',
    headers => [['Authorization', "Bearer $key"], ['Origin', 'http://evil.example']]);
is($w->status, 403, 'from another origin: 403');

# --- a person's browser -------------------------------------------------------------
my $main = "http://$domain:$gport";
local $ENV{NODE_PATH} = $modules;
local $ENV{CHROMIUM} = $chromium;
local $ENV{DESKTOP_URL} = "http://$dhost/vnc.html?autoconnect=1&path=websockify";
local $ENV{LOGIN_LINK} = login_link($redis, $me->{user}, $main);
local $ENV{WAIT_MS} = 30000;
my $out = qx{node @{[ repo_root() ]}/t/browser/desktop.js 2>&1};
is($?, 0, 'the browser script ran') or diag($out);
my $seen = eval { decode_json((split /\n/, $out)[-1]) } // {};
like($seen->{first_stop} // '', qr{^\Q$main\E/login\?next=}, 'the browser is sent to log in first');
is($seen->{final_url}, $ENV{DESKTOP_URL}, 'and back on the desktop after the login link');
ok($seen->{connected}, 'noVNC connects')
    or diag explain($seen), slurp("$state/desktop.log"),
            join '', grep { /desktop/ } split /^/, slurp("$ctl->{home}/sandboxes/$sb/engine.log");
is($seen->{canvas}{width}, 1920, 'its canvas is the 1920-wide screen');
is($seen->{canvas}{height}, 1080, 'and 1080 high');
diag("noVNC status: " . ($seen->{status} // '-') . ", page loads: " . ($seen->{attempts} // '-'));

# --- what an agent finds ------------------------------------------------------------
is(slurp("$dir/display.txt"), ":1\n", 'hooks (and agents) get DISPLAY=:1');
ok(poll_until(60, sub { slurp("$dir/computer.txt") =~ /^desktop\s+running.*http/m }),
   'the desktop is running, as `replicas computer info` says');
like(slurp("$dir/computer.txt"), qr{desktop\s+running DISPLAY=:1 \Qhttp://6080-$id.$domain:$gport/\E},
     '`replicas computer info` shows the desktop')
    or diag slurp("$dir/computer.txt");
ok(poll_until(60, sub { slurp("$dir/chromium-nosandbox.txt") ne '' }), 'Chromium ran on the display');
is(slurp("$dir/chromium-nosandbox.txt"), "124\n", 'with --no-sandbox it runs (until stopped)')
    or diag `cat $ctl->{home}/sandboxes/$sb/merged/../../*.log 2>/dev/null | tail -5`;
ok(poll_until(60, sub { slurp("$dir/chromium-sandbox.txt") ne '' }), 'and without');
ok(poll_until(60, sub { slurp("$dir/shot.txt") ne '' }), 'headless Chromium ran');
is(slurp("$dir/shot.txt"), "made\n", 'and took a screenshot, as the instructions say');
diag('Chromium without --no-sandbox: exit ' . slurp("$dir/chromium-sandbox.txt")
     . ' (124: it ran; anything else: it needs --no-sandbox here)');

# --- a program that dies is started again ------------------------------------------
# the sandbox's processes, seen from the host: the desktop's carry the
# engine's REPLICAS_WORKSPACE
sub desktop_pid {
    my ($name, $ws_id) = @_;
    $ws_id //= $id;
    for my $p (glob '/proc/[0-9]*') {
        my $comm = slurp("$p/comm");
        next unless $comm eq "$name\n";
        return (split m{/}, $p)[-1] if slurp("$p/environ") =~ /(?:^|\0)REPLICAS_WORKSPACE=\Q$ws_id\E\0/;
    }
    return undef;
}
my $vnc = desktop_pid('x11vnc');
ok($vnc, "x11vnc runs in the workspace (host pid $vnc)");
ok(desktop_pid('xmessage'), 'and the desktop\'s card (xmessage: which workspace this is)')
    or diag slurp("$state/desktop.log");
kill 'KILL', $vnc if $vnc;
ok(poll_until(60, sub { my $p = desktop_pid('x11vnc'); $p && $p != $vnc }), 'killed, it is started again');
ok(poll_until(30, sub {
    my $w2 = Replicas::Test::ws_connect(port => $gport, host => $dhost, path => '/websockify',
        headers => [['Authorization', "Bearer $key"], ['Origin', "http://$dhost"]]);
    my $ok = $w2->status == 101 && ($w2->recv_text(5) // '') =~ /^RFB /;
    $w2->close;
    $ok }), 'and the desktop answers again');
like(slurp("$ctl->{home}/sandboxes/$sb/engine.log"),
     qr/event=desktop\.exit program=x11vnc .*\n(?:.*\n)*.*event=desktop\.start program=x11vnc pid=\d+ starts=2/,
     "the engine's log says so");

Test::More->builder->is_passing or diag("the engine's desktop lines:\n",
     join '', grep { /desktop/ } split /^/, slurp("$ctl->{home}/sandboxes/$sb/engine.log"));
Test::More->builder->is_passing or diag("desktop.log:\n", slurp("$state/desktop.log"));

# --- the engine stops its programs; the desktop survives sleep and wake ----------
api($gw, $key, 'POST', "/v1/workspaces/$id/sleep");
is($ws->wait_state($id, 'sleeping'), 'sleeping', 'sleep');
$res = $ws->preview($id, 3737, path => '/healthz', timeout => 60);
is($ws->wait_state($id, 'awake'), 'awake', 'wake');
ok(poll_until(60, sub {
    my $r = http_request(port => $gport, host => $dhost, path => '/vnc.html',
                         headers => [['Authorization', "Bearer $key"]]);
    $r->{status} == 200 }), 'the desktop answers again after the wake');

# the engine stopped (SIGTERM) stops its programs: none is left behind
my $engine = desktop_pid('replicas-engine');
ok($engine, "the engine (host pid $engine)");
my $before = length slurp("$ctl->{home}/sandboxes/$sb/engine.log");
kill 'TERM', $engine if $engine;
ok(poll_until(30, sub { substr(slurp("$ctl->{home}/sandboxes/$sb/engine.log"), $before)
                        =~ /event=engine\.stopped/ }), 'the engine stops');
my $elog = substr(slurp("$ctl->{home}/sandboxes/$sb/engine.log"), $before);
unlike($elog, qr/event=desktop\.kill/, 'its desktop programs ended at SIGTERM (none killed)');
ok(!(grep { desktop_pid($_) } qw(Xvfb openbox x11vnc websockify)), 'and none is left');

api($gw, $key, 'DELETE', "/v1/workspaces/$id");
ok(poll_until(30, sub { ($redis->cmd('HGET', ws_key($id), 'state') // '') eq 'deleted' }), 'deleted');

# --- a repository that says "desktop": false ------------------------------------------
my $plain = fixture_repo('plain', { 'index.html' => "plain\n",
    'replicas.json' => encode_json({ desktop => JSON::PP::false,
        startHook => { commands => ['echo "${DISPLAY-unset}" > display.txt'] } }) }, $me->{org});
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $plain });
my $id2 = $j->{id};
is($ws->wait_state($id2, 'awake'), 'awake', "a workspace of a repository without a desktop ($id2)")
    or diag $ctl->log;
my $h2;
ok(poll_until(30, sub {
    $h2 = http_json($ws->preview($id2, 3737, path => '/healthz')) // {};
    ($h2->{desktop}{state} // '') eq 'off' && !grep { $_ == 6080 } @{ $h2->{ports} // [] } }),
   'its desktop is off, nothing listens on 6080') or diag explain $h2;
ok(poll_until(30, sub { !grep { desktop_pid($_, $id2) } qw(Xvfb openbox x11vnc websockify) }),
   'and none of its programs runs');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$id2/previews");
is_deeply([ grep { $_->{port} == 6080 } @{ $j->{previews} // [] } ], [], 'no 6080 preview');
api($gw, $key, 'DELETE', "/v1/workspaces/$id2");

done_testing();
