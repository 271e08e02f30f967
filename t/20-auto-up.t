# The README's first command, run from a clone in a folder only root may
# enter (as one under /root, mode 700), with REPLICAS_HOME and objs/ in
# there too: auto/up --detach brings Redis and the gateway up, makes the
# default organisation, admin and key, prints a login link and the URLs;
# the sample workspace (a real sandbox) answers; the demo preview answers
# to the admin key and, in a browser, after the login link; each of
# control, nginx's master and Redis killed with SIGKILL is started again by
# its supervisor (a line in logs/supervise.log), the sample answering on,
# and nginx -s reload works under it.  auto/down,
# from a shell without auto/up's settings, stops everything and leaves
# nothing on the host (mounts, namespaces, links, firewall, cgroups); the
# next auto/up keeps the same admin key and wakes the sample; auto/down
# without Redis still stops the sandboxes; an auto/up that fails (its
# port taken) stops what it started; and the home can then be removed.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Cwd ();
use IO::Socket::INET;
use Replicas::Test qw(repo_root tmpdir free_port http_request http_json wait_port poll_until);

my $src = repo_root();
my $private = tmpdir() . '/private';
mkdir $private or die "$private: $!";
chmod 0700, $private;
my $root = "$private/replicas";
# a clone, with the working tree's changes and new files on it (what is
# tested), and a build folder of its own: a copy of the tested one
# (agents hard-linked, they are big; nginx's tree marked configured)
my $objs = Replicas::Test::objs_dir();
system("git clone -q '$src' '$root' && cd '$src' && git ls-files -z --cached --others "
       . "--exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null "
       . "| tar -C '$root' -xf - && mkdir '$private/objs' && cp -a '$objs/nginx-src' "
       . "'$objs/replicas-control' '$objs/replicas-engine' '$objs/ngx_http_replicas_module.so' "
       . "'$private/objs/' && cp -al '$objs/agents' '$private/objs/agents' "
       . "&& touch '$private/objs/nginx-src/objs/Makefile'") == 0
    or BAIL_OUT('cannot clone the checkout under a private folder');
my $home = "$private/home";
my ($port, $redis_port) = (free_port(), free_port());
my $net = 'u' . ($$ % 100000);
my $range = sprintf('10.216.%d.0/24', $$ % 250);
my %env = (REPLICAS_HOME => $home, REPLICAS_PORT => $port,
           REPLICAS_REDIS_PORT => $redis_port, REPLICAS_DEMO_ADDR => '127.0.0.78',
           REPLICAS_NET_NAME => $net, REPLICAS_NET_RANGE => $range,
           REPLICAS_OBJS => "$private/objs",
           # nothing leaves the machine in a test
           REPLICAS_EGRESS => 'off');

# whatever happens, no sandbox or network of this test outlives it
# (teardown reads the sandboxes from Redis: it is started again for it)
END {
    my $status = $?;
    system("$root/auto/down >/dev/null 2>&1");
    if (-d "$home/redis") {
        system("redis-server --bind 127.0.0.1 --port $redis_port --dir $home/redis "
               . "--appendonly yes --daemonize yes --pidfile $home/redis/end.pid "
               . "--logfile $home/logs/redis-end.log");
        for (1 .. 100) {
            last if `redis-cli -p $redis_port ping 2>/dev/null` =~ /PONG/;
            select(undef, undef, undef, 0.05);
        }
        system("$private/objs/replicas-control --redis 127.0.0.1:$redis_port "
               . "serve --home $home --net-name $net --net-range $range --teardown "
               . ">/dev/null 2>&1");
        system("redis-cli -p $redis_port shutdown nosave >/dev/null 2>&1");
    }
    $? = $status;
}

# a process that runs: not gone, and not a zombie waiting for its reaper
sub running {
    my ($pid) = @_;
    return 0 unless $pid && kill(0, $pid);
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    return (<$fh> // '') !~ /^\d+ \(.*\) Z/;
}
local @ENV{keys %env} = values %env;
my $main = "replicas.localhost:$port";
my $demo = "3000-demo.replicas.localhost:$port";

my $out = qx{$root/auto/up --detach 2>&1};
is($?, 0, 'auto/up --detach succeeds') or diag($out);
like($out, qr{http://3000-demo\.replicas\.localhost:$port/}, 'prints the demo preview URL');
like($out, qr{http://replicas\.localhost:$port/}, 'prints the main site URL');
my ($login) = $out =~ m{(http://replicas\.localhost:$port/login\?token=\S+)};
ok($login, 'prints a login link');
like($out, qr{curl -s -H "Authorization: Bearer \$\(cat \Q$home\E/admin\.key\)" http://\Q$main\E/v1/workspaces},
     'and a ready-to-paste curl line');

ok(-s "$home/admin.key", 'the admin key is in $REPLICAS_HOME/admin.key');
is((stat "$home/admin.key")[2] & 077, 0, 'readable by its owner only');
is((stat "$home/signing.keys")[2] & 077, 0, 'so are the signing keys');
chomp(my $key = do { local (@ARGV, $/) = "$home/admin.key"; <> });
like($key, qr/^rk_[a-z0-9]{8}_/, 'an API key');
unlike(join('', map { local (@ARGV, $/) = $_; <> } glob("$home/logs/*")), qr/\Q$key\E/,
       'and it is in no log');

my $res = http_request(port => $port, host => $main, path => '/v1/workspaces',
                       headers => [['Authorization', "Bearer $key"]]);
is($res->{status}, 200, 'the admin key works on the API');
is(scalar @{ http_json($res)->{workspaces} }, 2, 'and sees the demo and sample workspaces');

# the sample workspace: a real sandbox made from conf/sample through the API
my ($sample_url) = $out =~ m{sample workspace (http://3000-([a-z0-9]+)\.replicas\.localhost:$port/)};
ok($sample_url, 'prints the sample workspace preview URL');
my ($sample) = $sample_url =~ m{3000-([a-z0-9]+)\.};
chomp(my $sample_id = do { local (@ARGV, $/) = "$home/sample.id"; <> } // '');
is($sample_id, $sample, 'and remembers its id');
$res = http_request(port => $port, host => "3000-$sample.replicas.localhost:$port",
                    headers => [['Authorization', "Bearer $key"]]);
is($res->{status}, 200, 'the sample preview answers');
like($res->{body}, qr/The sample workspace/, "served by the sample repository's start hook");
$res = http_request(port => $port, host => $main, path => "/v1/workspaces/$sample",
                    headers => [['Authorization', "Bearer $key"]]);
is(http_json($res)->{state}, 'awake', 'it is awake');
# its start hook ran `replicas preview create 3000`: the engine reached the
# platform through the gateway's listener on the sandboxes' bridge
# polls that send the admin key ask five times a second, not fifty: API
# calls and previews with a key count against its rate limit (600 a
# minute, auto/up's default), and a slow start must not spend it
sub gently {
    my ($code) = @_;
    return sub { my $v = $code->(); select(undef, undef, undef, 0.2) unless $v; $v };
}
my $previews;
poll_until(30, gently(sub {
    $res = http_request(port => $port, host => $main, path => "/v1/workspaces/$sample/previews",
                        headers => [['Authorization', "Bearer $key"]]);
    $previews = http_json($res);
    $previews && @{ $previews->{previews} // [] } >= 2 }));
is_deeply([ sort map { "$_->{port} $_->{visibility}" } @{ $previews->{previews} } ],
          ['3000 authenticated', '6080 authenticated'],
          'the sample registered its preview from inside, with `replicas preview create`, '
          . 'and its engine the desktop');

# the desktop: noVNC's page and the VNC server behind it, through the gateway
my ($desktop_url) = $out =~ m{its desktop\s+(\S+)};
is($desktop_url, "http://6080-$sample.replicas.localhost:$port/vnc.html?autoconnect=1&path=websockify&resize=scale",
   'prints the desktop URL');
my $dhost = "6080-$sample.replicas.localhost:$port";
$res = http_request(port => $port, host => $dhost, path => '/vnc.html');
is($res->{status}, 401, 'the desktop needs a credential');
poll_until(30, gently(sub {
    $res = http_request(port => $port, host => $dhost, path => '/vnc.html',
                        headers => [['Authorization', "Bearer $key"]]);
    $res->{status} == 200 }));
is($res->{status}, 200, 'the desktop answers with the key');
like($res->{body}, qr/noVNC/, "noVNC's page");
my $w = Replicas::Test::ws_connect(port => $port, host => $dhost, path => '/websockify',
    headers => [['Authorization', "Bearer $key"], ['Origin', "http://$dhost"]]);
is($w->status, 101, 'its WebSocket opens');
like($w->recv_text(15) // '', qr/^RFB 003\.00\d\n/, 'and the VNC server greets it');
$w->close;

$res = http_request(port => $port, host => $demo);
is($res->{status}, 401, 'the demo preview needs a credential');
$res = http_request(port => $port, host => $demo, headers => [['Authorization', "Bearer $key"]]);
is($res->{status}, 200, 'the admin key opens it');
like($res->{body}, qr/demo workspace/, 'with the demo page');

# the browser's way in: login link, session, ticket, preview cookie
my $path = ($login =~ m{^http://[^/]+(/.*)$})[0];
$res = http_request(port => $port, host => $main, path => $path, headers => [['Accept', 'text/html']]);
is($res->{status}, 303, 'the login link logs in');
my ($session) = ($res->{headers}{'set-cookie'} // '') =~ /^(replicas_session=[^;]+)/;
ok($session, 'with a session cookie');
$res = http_request(port => $port, host => $main,
                    path => "/auth/preview?to=http%3A%2F%2F$demo%2F",
                    headers => [['Cookie', $session], ['Accept', 'text/html']]);
is($res->{status}, 302, 'a ticket for the demo preview');
my ($tpath) = ($res->{headers}{location} // '') =~ m{^http://\Q$demo\E(/.*)$};
$res = http_request(port => $port, host => $demo, path => $tpath, headers => [['Accept', 'text/html']]);
my ($pc) = ($res->{headers}{'set-cookie'} // '') =~ /^(replicas_preview=[^;]+)/;
ok($pc, 'exchanged for a preview cookie');
$res = http_request(port => $port, host => $demo, headers => [['Cookie', $pc]]);
is($res->{status}, 200, 'which opens the demo preview');

$res = http_request(port => $port, host => $main, path => '/healthz');
like($res->{body}, qr/"ok"/, 'the main site answers /healthz');

$res = http_request(port => $port, host => "3001-demo.replicas.localhost:$port",
                    headers => [['Authorization', "Bearer $key"]]);
is($res->{status}, 502, 'a closed port of the demo workspace: 502');

ok(-s "$home/logs/gateway.log", 'gateway log under REPLICAS_HOME');

# --- supervision: what auto/up started, killed, is started again ---------------
sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; <$fh> // '' }
sub pid_in { (slurp($_[0]) =~ /(\d+)/)[0] // 0 }
# the supervisors of this home, from /proc (auto/down removes their pidfiles)
sub supervisors {
    grep { my $c = slurp("/proc/$_/cmdline"); $c =~ m{/auto/supervise\0} && $c =~ /\Q$home\E/ }
        map { m{/proc/(\d+)$} ? $1 : () } glob('/proc/[0-9]*');
}
is(scalar(my @sup = supervisors()), 3, 'three supervisors run (redis, control, gateway)');
sub sample_answers {
    my $r = http_request(port => $port, host => "3000-$sample.replicas.localhost:$port",
                         headers => [['Authorization', "Bearer $key"]]);
    return 1 if $r->{status} == 200 && $r->{body} =~ /The sample workspace/;
    our $sample_said = ($r->{status} || $r->{error} || '?') . ': ' . substr($r->{body} // '', 0, 300);
    return 0;
}
my $starts = sub { scalar(() = slurp("$home/logs/control.log") =~ /worker\.start/g) };
my %ready = (
    control => do { my $n; sub { $n //= $starts->(); $starts->() > $n } },
    gateway => sub { http_request(port => $port, host => $main, path => '/healthz')->{status} == 200 },
    redis   => sub { `redis-cli -p $redis_port ping 2>/dev/null` =~ /PONG/ },
);
for (['control', "$home/control.pid"], ['gateway', "$home/nginx/nginx.pid"],
     ['redis', "$home/redis/redis.pid"]) {
    my ($name, $pidfile) = @$_;
    my $old = pid_in($pidfile);
    ok(running($old), "$name runs");
    $ready{control}->() if $name eq 'control';    # counts control's starts so far
    kill 'KILL', $old;
    my $new;
    ok(poll_until(30, sub { $new = pid_in($pidfile); $new != $old && running($new)
                            && $ready{$name}->() }),
       "$name killed with SIGKILL: started again");
    like(slurp("$home/logs/supervise.log"),
         qr/supervise: \Q$name\E \(pid $old\) died: killed by signal 9 \(KILL\)/,
         'a line in logs/supervise.log says what died and how');
    ok(poll_until(30, gently(\&sample_answers)), 'the sample workspace answers on');
}
ok(poll_until(30, sub { running(pid_in("$home/control.pid")) }), 'control runs after Redis came back');
my $master = pid_in("$home/nginx/nginx.pid");
my $reloads = () = slurp("$home/logs/gateway.log") =~ /reconfiguring/g;
is(system('nginx', '-p', "$home/nginx/", '-c', "$home/nginx/nginx.conf",
          '-e', "$home/logs/gateway.log", '-s', 'reload'), 0, 'nginx -s reload under its supervisor');
ok(poll_until(10, sub { (() = slurp("$home/logs/gateway.log") =~ /reconfiguring/g) > $reloads }),
   'the master reloads');
# (t/59 checks that no request fails across reloads, under load; here one
# that did is named, and the sample must answer within a bounded moment)
sample_answers() or diag("right after the reload the sample answered $main::sample_said");
ok(poll_until(10, gently(\&sample_answers)), 'and the sample answers through it');
is(pid_in("$home/nginx/nginx.pid"), $master, 'the same master, not a restart');

# --- auto/down, from a shell without auto/up's settings -------------------------
# (no REPLICAS_REDIS_PORT, REPLICAS_NET_NAME...: it reads what auto/up recorded)
my @sandboxes = split ' ', `redis-cli -p $redis_port SMEMBERS replicas:node-sandboxes:\$(hostname)`;
ok(scalar @sandboxes, 'the sample (and its warm pool) have sandboxes: ' . "@sandboxes");
my $real_home = Cwd::realpath($home);

sub host_clean {
    my ($when) = @_;
    my $mounts = do { local (@ARGV, $/) = '/proc/self/mountinfo'; <> };
    unlike($mounts, qr{ \Q$real_home\E/}, "$when: nothing mounted under REPLICAS_HOME");
    unlike(`ip netns list`, qr/^\Q$net\E-/m, "$when: no network namespace of it");
    my $links = `ip -o link show`;
    unlike($links, qr/\b\Q${net}br\E\b/, "$when: no bridge");
    my $veths = join '|', map { "v\Q$_\E" } @sandboxes;
    unlike($links, qr/\b(?:$veths)\b/, "$when: no veth of its sandboxes") if @sandboxes;
    unlike(`nft list tables`, qr/\breplicas_\Q$net\E\b/, "$when: no firewall table");
    is(join(' ', grep { -e "/sys/fs/cgroup/$_" }
            map { ("$_/replicas-$net", "replicas-$net") } qw(memory pids cpu cpuacct freezer unified)), '',
       "$when: no cgroup folder (so no process of a sandbox left)");
}

{
    local %ENV = (PATH => $ENV{PATH}, REPLICAS_HOME => $home);
    $out = qx{$root/auto/down 2>&1};
}
is($?, 0, 'auto/down succeeds') or diag($out);
is(join(' ', supervisors()), '', 'no supervisor is left');
ok(!wait_port('127.0.0.1', $port, 0.5), 'the gateway is gone');
ok(!wait_port('127.0.0.1', $redis_port, 0.5), 'Redis is gone');
ok(!-e "$home/control.pid" || !running(do { local (@ARGV, $/) = "$home/control.pid"; <> } + 0),
   'the control worker is gone');
like(do { local (@ARGV, $/) = "$home/logs/control.log"; <> }, qr/ws\.state ws=$sample state=sleeping/,
     'the sample workspace was put to sleep');
host_clean('after auto/down');

# --- up again: the same key, the sample wakes -------------------------------------
$out = qx{$root/auto/up --detach 2>&1};
is($?, 0, 'auto/up runs again') or diag($out);
chomp(my $key2 = do { local (@ARGV, $/) = "$home/admin.key"; <> });
is($key2, $key, 'with the same admin key');
like($out, qr{sample workspace \Q$sample_url\E}, 'and the same sample workspace');
like(do { local (@ARGV, $/) = "$home/logs/control.log"; <> }, qr/job\.start .*type=wake ws=$sample/,
     'which auto/down put to sleep and the next request woke');
$res = http_request(port => $port, host => "3000-$sample.replicas.localhost:$port",
                    headers => [['Authorization', "Bearer $key"]]);
is($res->{status}, 200, 'its preview answers again');
like($res->{body}, qr/The sample workspace/, 'from its start hook');

# --- auto/down when Redis is gone: the sandboxes stop all the same -----------------
# (its supervisor killed with it, else Redis would be back)
my $redis_pid = pid_in("$home/redis/redis.pid");
kill 'KILL', pid_in("$home/supervise/redis.pid"), $redis_pid;
ok(poll_until(10, sub { !running($redis_pid) }), 'Redis died');
$out = qx{$root/auto/down 2>&1};
is($?, 0, 'auto/down succeeds without Redis') or diag($out);
like($out, qr/redis does not answer/, 'and says it works without it');
ok(!wait_port('127.0.0.1', $port, 0.5), 'the gateway is gone');
host_clean('after auto/down without Redis');

# --- an auto/up that fails stops what it had started -------------------------------
my $taken = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port, Listen => 5,
                                  ReuseAddr => 1) or die "cannot hold port $port: $!";
$out = qx{$root/auto/up --detach 2>&1};
isnt($?, 0, 'auto/up fails when the gateway cannot listen');
like($out, qr/auto\/up failed: stopping what it started/, 'and says it stops what it started')
    or diag($out);
close $taken;
ok(!wait_port('127.0.0.1', $redis_port, 0.5), 'Redis is not left running');
ok(!running(do { local (@ARGV, $/) = "$home/control.pid"; <> } + 0),
   'nor the control worker');
is(join(' ', supervisors()), '', 'nor a supervisor');
host_clean('after a failed auto/up');

is(system('rm', '-rf', $home), 0, 'rm -rf $REPLICAS_HOME works');
ok(!-e $home, 'and it is gone');

done_testing();
