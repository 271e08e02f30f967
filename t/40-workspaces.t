# Workspaces for real, end to end: the API creates a workspace, the
# control worker clones the repository into an image, starts an isolated
# sandbox (network namespace, bubblewrap, overlayfs, cgroup) with the
# engine, the repository's start hook serves on port 3000, and the preview
# answers through the gateway.  Then: two workspaces on port 3000 at once,
# isolation, sleep and wake-on-request, messages across sleep and wake,
# delete; then a worker with --egress off.  Needs root, as ./auto/test runs.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use POSIX ();
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use Replicas::Test qw(start_redis http_request http_json poll_until);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Workspaces qw(serve_hook);
use Replicas::Control qw(start_control fixture_repo);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', wake_hold => '60s');
my $me = new_identity($redis);
my $key = $me->{key};
my $d = $gw->{domain};
my $ws = Replicas::Workspaces->new($gw, $key);
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--memory', 256, '--egress', 'on',
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);

# the start hook serves the checkout on 3000, in the background
my $serve = serve_hook();
my $app1 = fixture_repo('app1', { 'index.html' => "app one\n", 'replicas.json' => $serve }, $me->{org});
# the same in replicas.yaml
my $app2 = fixture_repo('app2', { 'index.html' => "app two\n", 'replicas.yaml' => <<'YAML' }, $me->{org});
startHook:
  commands:
    - python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &
  timeout: 60000
YAML

# a page from the workspace's dev server, once its start hook has it up

# --- create, preview ----------------------------------------------------------
my ($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app1 });
is($st, 201, 'create: 201 at once');
my $a = $j->{id};
ok($a, "workspace $a");
is($ws->wait_state($a, 'awake'), 'awake', 'the worker makes it awake')
    or diag $ctl->log;
my $rec = { @{ $redis->cmd('HGETALL', ws_key($a)) } };
like($rec->{addr}, qr/^10\.215\.\d+\.\d+$/, "it has an address of its own ($rec->{addr})");
my $res = $ws->page($a);
is($res->{status}, 200, 'its preview on 3000 answers through the gateway');
is($res->{body}, "app one\n", "served from the repository's checkout by its start hook");

# the engine answers on 3737 through the gateway, for a key of the org
$res = $ws->preview($a, 3737, path => '/healthz');
is($res->{status}, 200, 'the engine answers through the gateway');
is(http_json($res)->{workspace}, $a, 'and knows its workspace');

# --- two workspaces on port 3000 at once -----------------------------------------
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app2 });
my $b = $j->{id};
is($ws->wait_state($b, 'awake'), 'awake', "a second workspace $b") or diag $ctl->log;
is($ws->page($b)->{body}, "app two\n", 'B serves its own 3000 (start hook from replicas.yaml)');
is($ws->preview($a, 3000)->{body}, "app one\n", 'while A still serves its own');
my $brec = { @{ $redis->cmd('HGETALL', ws_key($b)) } };
isnt($brec->{addr}, $rec->{addr}, 'at another address');

# --- several repositories in one workspace ---------------------------------------
my $multi = fixture_repo('multi', { 'replicas.json' => encode_json({ startHook => { commands => [
    'python3 -m http.server 3000 --bind 0.0.0.0 --directory /workspace >/dev/null 2>&1 &'] } }) }, $me->{org});
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $multi, repositories => [$app1, $app2] });
my $m = $j->{id};
is($ws->wait_state($m, 'awake'), 'awake', "a workspace of three repositories ($m)") or diag $ctl->log;
$ws->page($m);
is($ws->preview($m, 3000, path => '/app1/index.html')->{body}, "app one\n", 'the second under /workspace/app1');
is($ws->preview($m, 3000, path => '/app2/index.html')->{body}, "app two\n", 'the third under /workspace/app2');
api($gw, $key, 'DELETE', "/v1/workspaces/$m");

# --- environments: Global, a named one over it, files into the workspace -----
($st) = api($gw, $key, 'PUT', '/v1/environments/global',
            { variables => { GREETING => 'hello from global', ONLY_GLOBAL => 'g1' } });
is($st, 200, 'the Global environment');
($st) = api($gw, $key, 'PUT', '/v1/environments/staging',
            { variables => { GREETING => 'hello from staging' },
              files => { 'app3/notes/env.txt' => "a file from the environment\n" } });
is($st, 200, 'a named one');
my $app3 = fixture_repo('app3', { 'index.html' => "app three\n", 'replicas.json' => encode_json(
    { warmHook => { commands => ['echo warming up the image'] },
      startHook => { commands => [
        'printf "%s|%s" "$GREETING" "$ONLY_GLOBAL" > greeting.txt', 'echo start hook was here',
        'python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &'] } }) }, $me->{org});
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces',
                { repository => $app3, environment => 'staging' });
my $c = $j->{id};
is($ws->wait_state($c, 'awake'), 'awake', "a workspace with the staging environment ($c)")
    or diag $ctl->log;
$ws->page($c);
is($ws->preview($c, 3000, path => '/greeting.txt')->{body}, 'hello from staging|g1',
   'its start hook sees the variables, the named one over Global');
is($ws->preview($c, 3000, path => '/notes/env.txt')->{body}, "a file from the environment\n",
   "and the environment's file is in the workspace");
unlike($ctl->log, qr/hello from|a file from the environment/, 'no value in the worker log');

# the hooks' logs through the API
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$c/hooks");
is($st, 200, 'hook logs through the API');
is($j->{start}{state}, 'succeeded', 'the start hook succeeded');
like($j->{start}{log}, qr/start hook was here/, "with its output");
is($j->{warm}{state}, 'succeeded', 'the warm hook (run when the image was built) too');
like($j->{warm}{log}, qr/warming up the image/, 'with its output');
($st) = api($gw, undef, 'GET', "/v1/workspaces/$c/hooks");
is($st, 401, 'not without a key');
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app3, environment => 'nosuch' });
my $nosuch = $j->{id};
is($ws->wait_state($nosuch, 'failed'), 'failed', 'an environment that does not exist fails the workspace');
like($redis->cmd('HGET', ws_key($nosuch), 'reason') // '', qr/nosuch/, 'saying which');
api($gw, $key, 'DELETE', "/v1/workspaces/$c");
api($gw, $key, 'DELETE', "/v1/workspaces/$nosuch");

# a repository outside the worker's --repo-root is refused
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => Replicas::Test::repo_root() });
my $outside = $j->{id};
is($ws->wait_state($outside, 'failed'), 'failed', 'a local repository outside --repo-root: failed');
like($redis->cmd('HGET', ws_key($outside), 'reason') // '', qr/--repo-root/, 'saying why');
# ... and says so through the API, in the workspace and in the list
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$outside");
is($j->{state}, 'failed', 'GET: failed');
like($j->{reason} // '', qr/--repo-root/, 'GET: with the reason');
($st, $j) = api($gw, $key, 'GET', '/v1/workspaces');
my ($listed) = grep { $_->{id} eq $outside } @{ $j->{workspaces} };
like($listed->{reason} // '', qr/--repo-root/, 'the list: with the reason');
($st, $j) = api($gw, $key, 'GET', "/v1/workspaces/$a");
ok(!exists $j->{reason}, 'an awake workspace has no reason');
api($gw, $key, 'DELETE', "/v1/workspaces/$outside");

# local repositories are per organisation: another organisation's key
# cannot make a workspace of the first one's repository (by its path, nor
# by file://, nor by a link in its own folder)
my $them = new_identity($redis, email => 'other@example.com');
ok($them->{org} ne $me->{org}, 'a second organisation');
my $theirs = Replicas::Test::tmpdir() . "/repos/$them->{org}";
mkdir $theirs;
symlink $app1, "$theirs/borrowed" or die "symlink: $!";
for my $repo ($app1, "file://$app1", "$theirs/borrowed") {
    ($st, $j) = api($gw, $them->{key}, 'POST', '/v1/workspaces', { repository => $repo });
    my $id = $j->{id};
    is(Replicas::Workspaces->new($gw, $them->{key})->wait_state($id, 'failed'), 'failed',
       "the other org's $repo: failed");
    ($st, $j) = api($gw, $them->{key}, 'GET', "/v1/workspaces/$id");
    like($j->{reason} // '', qr/organisation's own folder/, 'saying why, through the API');
}

# --- isolation, seen from inside A's network namespace --------------------------
my $ns = "$ctl->{net}-$rec->{sandbox}";
ok(-e "/run/netns/$ns", "A has its own network namespace ($ns)");
sub from_ns {
    my ($ns, $host, $port) = @_;
    my $py = "import socket,sys\ns=socket.socket()\ns.settimeout(2)\n"
           . "try:\n s.connect(('$host',$port)); print('open')\n"
           . "except socket.timeout: print('dropped')\n"
           . "except OSError as e: print('no route' if e.errno == 101 else 'refused')\n";
    my $out = qx{ip netns exec $ns python3 -c "$py" 2>&1};
    chomp $out;
    return $out;
}
sub from_a { from_ns($ns, @_) }
is(from_a($brec->{addr}, 3000), 'dropped', "A cannot reach B's port 3000");
isnt(from_a($rec->{addr} =~ s/\.\d+$/.1/r, $redis->{port}), 'open', 'A cannot reach Redis on the host');
is(from_a('127.0.0.1', $redis->{port}), 'refused', "A's loopback is its own");

# the internet: a host of the test's own, in a namespace of its own at
# 198.20.<n>.2 (a public address, shadowed on this machine for the test),
# routed through this machine; it answers at special-purpose addresses too
# (benchmarking, documentation: RFC 6890), which sandboxes must not reach
my $out = "o" . ($$ % 100000);
my $on = 1 + $$ % 250;
my @special = ("198.18.$on.2", "198.19.$on.2", "192.0.2.$on", "198.51.100.$on",
               "203.0.113.$on", "192.88.99.$on");
my @setup = ("ip netns add $out", "ip link add ${out}h type veth peer name ${out}p",
             "ip link set ${out}p netns $out", "ip addr add 198.20.$on.1/24 dev ${out}h",
             "ip link set ${out}h up", "ip -n $out addr add 198.20.$on.2/24 dev ${out}p",
             "ip -n $out link set ${out}p up", "ip -n $out link set lo up",
             "ip -n $out route add default via 198.20.$on.1",
             (map { ("ip -n $out addr add $_/32 dev lo", "ip route add $_/32 via 198.20.$on.2") } @special));
is(scalar(grep { system($_) != 0 } @setup), 0, 'a stand-in internet host');
my $listener = fork // die;
if (!$listener) {
    exec 'ip', 'netns', 'exec', $out, 'python3', '-c',
        "import socket\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
      . "s.bind(('0.0.0.0',8443))\ns.listen(8)\nwhile True:\n c,_=s.accept()\n c.close()\n"
        or POSIX::_exit(127);
}
END {
    my $status = $?;
    kill 'KILL', $listener if $listener;
    system("ip netns del $out 2>/dev/null; ip link del ${out}h 2>/dev/null") if $out;
    system("ip route del $_/32 2>/dev/null") for @special;
    $? = $status;
}
ok(poll_until(10, sub { system("ip netns exec $out python3 -c \"import socket; socket.create_connection(('127.0.0.1', 8443), 1)\" 2>/dev/null") == 0 }),
   'listening there');
# polled: the first SYN through a path made a moment ago may be lost (one
# try of 2 s is a timing assertion)
my $egress = '';
poll_until(30, sub { ($egress = from_a("198.20.$on.2", 8443)) eq 'open' });
is($egress, 'open', 'A reaches the internet (egress, NATed)');
is(from_a($_, 8443), 'refused', "but not the same host at special-purpose $_") for @special;
isnt(from_a('192.168.1.1', 80), 'open', 'but no private network');
isnt(from_a('169.254.169.254', 80), 'open', 'nor a cloud metadata address');
is(from_a('169.254.169.254', 80), 'refused', 'refused at once, not left to time out');

# --- messages, sleep, wake-on-request ----------------------------------------
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$a/messages", { text => 'one' });
is($st, 202, 'a message to an awake workspace');
poll_until(20, sub { my $m = http_json($ws->preview($a, 3737, path => '/messages'));
                     $m && @{ $m->{messages} } == 1 });

($st) = api($gw, $key, 'POST', "/v1/workspaces/$a/sleep");
is($st, 202, 'sleep asked');
is($ws->wait_state($a, 'sleeping'), 'sleeping', 'A sleeps') or diag $ctl->log;
is(from_a($rec->{addr}, 3737), 'refused', 'its engine is gone');
is(from_a($rec->{addr}, 3000), 'refused', 'and its dev server');

($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$a/messages", { text => 'two' });
is($st, 202, 'a message to a sleeping workspace is taken');
is($j->{status}, 'waking', 'and wakes it');
($st, $j) = api($gw, $key, 'POST', "/v1/workspaces/$a/messages", { text => 'three' });
is($st, 202, 'a second one while it wakes');

# a program asking for the preview is held until it is awake, then served
$res = $ws->preview($a, 3000, timeout => 60);
is($res->{status}, 200, 'a request while waking is held, then proxied')
    or diag explain $res;
is($res->{body}, "app one\n", 'to the app, once its port is open');
is($ws->wait_state($a, 'awake'), 'awake', 'A is awake again');
is($ws->page($a)->{body}, "app one\n", 'its start hook ran again: the preview is back');

my $msgs;
poll_until(20, sub { $msgs = http_json($ws->preview($a, 3737, path => '/messages'));
                     $msgs && @{ $msgs->{messages} } >= 3 });
is_deeply([ map { $_->{text} } @{ $msgs->{messages} } ], [qw(one two three)],
          'messages across sleep and wake arrive once each, in order');
# control takes each one off the list once the engine has it: a moment later
ok(poll_until(10, sub { $redis->cmd('LLEN', "replicas:ws-messages:$a") == 0 }), 'none left queued');

# a sleeping workspace asked for by a browser: the waiting page, then awake
api($gw, $key, 'POST', "/v1/workspaces/$b/sleep");
is($ws->wait_state($b, 'sleeping'), 'sleeping', 'B sleeps');
$res = http_request(port => $gw->{port}, host => "3000-$b.$d",
                    headers => [['Authorization', "Bearer $key"],
                                ['Accept', 'text/html,*/*;q=0.8']]);
is($res->{status}, 503, 'a browser gets the waiting page');
like($res->{body}, qr/Waking workspace $b/, 'saying it wakes');
is($ws->wait_state($b, 'awake'), 'awake', 'and the request woke it');
is($ws->page($b)->{body}, "app two\n", 'the reload is served');

# --- delete -------------------------------------------------------------------
($st) = api($gw, $key, 'DELETE', "/v1/workspaces/$b");
ok($st == 202 || $st == 200 || $st == 204, "delete asked ($st)");
ok(poll_until(30, sub { ($redis->cmd('HGET', ws_key($b), 'state') // '') eq 'deleted' }),
   'B is deleted') or diag $ctl->log;
($st) = api($gw, $key, 'GET', "/v1/workspaces/$b");
is($st, 404, 'and gone from the API');
ok(poll_until(10, sub { !-e "/run/netns/$ctl->{net}-$brec->{sandbox}" }),
   'its namespace is gone');
ok(poll_until(10, sub { !-d "$ctl->{home}/sandboxes/$brec->{sandbox}" }), 'and its disk');
is($ws->preview($b, 3000)->{status}, 404, 'its preview is 404');

unlike($ctl->log, qr/$key/, 'no key in the worker log');

# --- egress off (the harness's default): the sandbox reaches the gateway only ----
# another worker, with --egress off; the first one's sandboxes stay (their
# engines' logs are read at the end)
$ctl->stop;
my $off = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--memory', 256,
                                 '--repo-root', Replicas::Test::tmpdir() . '/repos']);
($st, $j) = api($gw, $key, 'POST', '/v1/workspaces', { repository => $app1 });
my $e = $j->{id};
is($ws->wait_state($e, 'awake'), 'awake', "a workspace of a worker with --egress off ($e)")
    or diag $off->log;
my $erec = { @{ $redis->cmd('HGETALL', ws_key($e)) } };
my $ens = "$off->{net}-$erec->{sandbox}";
my $ehost = $erec->{addr} =~ s/\.\d+$/.1/r;
# the gateway listens on loopback only: a stand-in on the allowed port at
# the bridge's host address, and at another address of the host
my $allowed = fork // die;
if (!$allowed) {
    exec 'python3', '-c', "import socket,select\nls=[]\n"
      . "for a in ('$ehost','198.20.$on.1'):\n s=socket.socket()\n"
      . " s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
      . " s.bind((a,$gw->{port}))\n s.listen(8)\n ls.append(s)\n"
      . "while True:\n for s in select.select(ls,[],[])[0]:\n  c,_=s.accept()\n  c.close()\n"
        or POSIX::_exit(127);
}
END { kill 'KILL', $allowed if $allowed }
ok(poll_until(10, sub { IO::Socket::INET->new(PeerAddr => "198.20.$on.1", PeerPort => $gw->{port},
                                              Timeout => 1) }),
   'it answers at the other address from the host');
my $to_gw = '';
poll_until(30, sub { ($to_gw = from_ns($ens, $ehost, $gw->{port})) eq 'open' });
is($to_gw, 'open', "from the sandbox, the allowed port of the host's bridge address answers");
is(from_ns($ens, "198.20.$on.2", 8443), 'no route',
   'the stand-in internet host A reached: no route out of the sandbox');
is(from_ns($ens, "198.20.$on.1", $gw->{port}), 'no route', "nor to the host's other address");
is(from_ns($ens, $ehost, $redis->{port}), 'dropped', "the bridge address's other ports: dropped");
# the firewall holds without the missing route too: the route with egress
# added by hand (the sandbox cannot, the namespace is not its own)
is(system("ip -n $ens route replace default via $ehost dev eth0"), 0, 'a default route added');
is(from_ns($ens, "198.20.$on.2", 8443), 'dropped', 'the internet host: dropped (nothing forwarded)');
is(from_ns($ens, "198.20.$on.1", $gw->{port}), 'dropped',
   "the allowed port at the host's other address: dropped");
is(from_ns($ens, $ehost, $gw->{port}), 'open', 'the allowed port still answers');

done_testing();
