#!/usr/bin/env perl
# ./auto/bench dashboard: what the dashboard waits for, measured at the
# gateway (Redis, Debian's nginx with the module; no sandbox).
#   event      a workspace change published as control publishes it
#              (HSET + PUBLISH replicas:ws-changed) to its event on an
#              open GET /v1/events stream: median and p95, against the
#              baseline of a plain Redis SUBSCRIBE client hearing the same
#              PUBLISH (the floor: the stream adds the gateway's question
#              to lua/api.lua and the write)
#   first load the dashboard's files (index.html, app.js, app.css,
#              style.css): bytes, and the time to fetch them
#   list       with BENCH_LIST (1000) workspaces in Redis: GET
#              /v1/workspaces and the stream's snapshot, bytes and time
#   page       in Debian's Chromium (t/bench/dashboard-page.js), with the
#              list's workspaces in Redis: the first load (bytes over the
#              wire, time to the list shown), the list's render alone, and
#              a change published to its text in the page (median, p95;
#              target <= 50 ms)
#   engine     a real replicas-engine on loopback (no sandbox; the
#              agents' folder empty, so each turn ends at once) as a
#              workspace's engine: each message it takes (its event
#              message.received) to its text in the workspace's chat in
#              the page, through the gateway's proxied event stream
#              (median, p95; target <= 50 ms)

use strict;
use warnings;
use Test::More ();
use FindBin;
use lib "$FindBin::Bin/../lib";
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);
use JSON::PP;
use Replicas::Test qw(start_redis http_request);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity login_link);
use Replicas::Test qw(objs_dir engine_bin tmpdir wait_port);
use POSIX ();
use IPC::Open2;
use Replicas::EventStream;

my $rounds = $ENV{BENCH_ROUNDS} // 200;
my $nlist = $ENV{BENCH_LIST} // 1000;

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', dashboard => 1);
my $host = "$gw->{domain}:$gw->{port}";
my $me = new_identity($redis);

sub pct {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[int($p * $#v + 0.5)];
}
sub ms { sprintf '%.2f ms', $_[0] * 1000 }

# --- event latency --------------------------------------------------------------
put_workspace($redis, 'bench1', org => $me->{org}, user => $me->{user}, state => 'awake',
              name => 'bench', repository => 'https://github.com/replicas/sample',
              agent => 'claude', created => time, state_at => time);
$redis->cmd('SADD', "replicas:org-ws:$me->{org}", 'bench1');

my $sub = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $redis->{port}, Proto => 'tcp')
    or die "redis: $!";
print $sub "SUBSCRIBE replicas:ws-changed\r\n";
my $sbuf = '';
sub sub_wait {        # until a message for id $_[0] (a RESP array, read loosely)
    my ($id, $deadline) = @_;
    while ($sbuf !~ /\r\nmessage\r\n.*?\r\n\Q$id\E\r\n/s) {
        IO::Select->new($sub)->can_read($deadline - time) or return 0;
        sysread($sub, $sbuf, 65536, length $sbuf) or return 0;
    }
    $sbuf = '';
    return 1;
}
sub_wait('', time + 0.2);     # the subscribe's answer
$sbuf = '';

my $s = Replicas::EventStream->open(port => $gw->{port}, host => $host, path => '/v1/events',
                                    headers => [['Authorization', "Bearer $me->{key}"]]);
$s->next_event(5) or die "no snapshot\n";

my (@stream, @floor);
for my $i (1 .. $rounds) {
    my $name = "n$i";
    my $t0 = time;
    $redis->cmd('HSET', 'replicas:ws:bench1', 'name', $name);
    $redis->cmd('PUBLISH', 'replicas:ws-changed', 'bench1');
    sub_wait('bench1', $t0 + 5) or die "the subscriber heard nothing\n";
    push @floor, time - $t0;
    my ($ev) = $s->wait_for(sub { ($_[0]{payload}{name} // '') eq $name }, 5);
    $ev or die "no event for change $i\n";
    push @stream, time - $t0;
}
$s->close;
printf "event latency, change published -> event read (%d changes)\n", $rounds;
printf "  %-34s median %s  p95 %s\n", 'Redis SUBSCRIBE (baseline)', ms(pct(0.5, @floor)), ms(pct(0.95, @floor));
printf "  %-34s median %s  p95 %s  (x%.2f the baseline's median)\n", 'GET /v1/events',
       ms(pct(0.5, @stream)), ms(pct(0.95, @stream)), pct(0.5, @stream) / (pct(0.5, @floor) || 1e-9);

# --- first load ------------------------------------------------------------------
my ($bytes, $t0) = (0, time);
for my $f ('/', '/app.js', '/app.css', '/style.css') {
    my $res = http_request(port => $gw->{port}, host => $host, path => $f,
                           headers => [['Accept', $f eq '/' ? 'text/html' : '*/*']]);
    die "$f: $res->{status}\n" unless $res->{status} == 200;
    $bytes += length $res->{body};
}
printf "first load: %d bytes in 4 files (no compression), fetched in %s\n", $bytes, ms(time - $t0);

# --- the list with many workspaces ----------------------------------------------
$redis->cmd('EVAL', <<'LUA', 0, $me->{org}, $me->{user}, time, $nlist);
for i = 1, tonumber(ARGV[4]) do
    local id = 'list' .. i
    redis.call('HSET', 'replicas:ws:' .. id, 'org', ARGV[1], 'user', ARGV[2], 'name', 'workspace ' .. i,
               'repository', 'https://github.com/replicas/sample', 'agent', 'claude',
               'created', ARGV[3], 'state_at', ARGV[3], 'state', (i % 3 == 0) and 'awake' or 'sleeping')
    redis.call('SADD', 'replicas:org-ws:' .. ARGV[1], id)
end
LUA
my @get;
my $len = 0;
for (1 .. 5) {
    my $t = time;
    my $res = http_request(port => $gw->{port}, host => $host, path => '/v1/workspaces',
                           headers => [['Authorization', "Bearer $me->{key}"]]);
    die "list: $res->{status} $res->{body}\n" unless $res->{status} == 200;
    push @get, time - $t;
    $len = length $res->{body};
}
my @snap;
for (1 .. 5) {
    my $t = time;
    my $st = Replicas::EventStream->open(port => $gw->{port}, host => $host, path => '/v1/events',
                                         headers => [['Authorization', "Bearer $me->{key}"]]);
    $st->next_event(10, 'raw') or die "no snapshot\n";
    push @snap, time - $t;
    $st->close;
}
printf "the list with %d workspaces: %d bytes; GET /v1/workspaces median %s, the stream's snapshot median %s\n",
       $nlist + 1, $len, ms(pct(0.5, @get)), ms(pct(0.5, @snap));
# --- an engine, as a workspace's: on the address the gateway proxies to ------------
# (a loopback address of its own, on the engine's fixed port)
my $eaddr = '127.0.0.9';
my $edir = tmpdir() . '/engine';
mkdir $edir; mkdir "$edir/work"; mkdir "$edir/agents";
my $epid = fork // die "fork: $!";
if (!$epid) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$edir/engine.log";
    open STDERR, '>&', \*STDOUT;
    $ENV{HOME} = $edir;
    $ENV{REPLICAS_WORKSPACE} = 'bench2';
    exec engine_bin(), 'serve', '--listen', "$eaddr:3737", '--state-dir', "$edir/state",
         '--workdir', "$edir/work", '--agents-dir', "$edir/agents", '--desktop', 'off'
        or POSIX::_exit(127);
}
END { if ($epid) { kill 'TERM', $epid; waitpid $epid, 0 } }
wait_port($eaddr, 3737, 10) or die "the engine did not listen on $eaddr:3737 (in use?)\n";
put_workspace($redis, 'bench2', org => $me->{org}, user => $me->{user}, state => 'awake',
              name => 'engine bench', repository => 'https://github.com/replicas/sample',
              agent => 'claude', created => time, state_at => time, addr => $eaddr);
$redis->cmd('SADD', "replicas:org-ws:$me->{org}", 'bench2');

# --- in the page -------------------------------------------------------------------
{
    local $ENV{ENGINE_WS} = 'bench2';
    local $ENV{NODE_PATH} = objs_dir() . '/node/node_modules';
    local $ENV{CHROMIUM} = '/usr/bin/chromium';
    local $ENV{MAIN} = "http://$host";
    local $ENV{LOGIN_LINK} = login_link($redis, $me->{user}, "http://$host");
    local $ENV{COUNT} = $nlist + 1;
    my $pid = open2(my $out, my $in, 'node', "$FindBin::Bin/dashboard-page.js");
    my $line = <$out> // '';
    $line =~ /^ready (.*)$/ or die "the page: $line";
    my $load = JSON::PP->new->decode($1);
    printf "in Chromium, with %d workspaces: first load (login link to the list shown) %d bytes over the wire "
         . "(the stream's snapshot not counted), %d ms; a reload, files cached, %d ms; the list's render alone %.1f ms\n",
         $nlist + 1, $load->{bytes}, $load->{shown_ms}, $load->{reload_ms}, $load->{render_ms};
    my %t0;
    my $n = $ENV{BENCH_PAGE_ROUNDS} // 100;
    for my $i (1 .. $n) {
        my $name = "bench-$i";
        $t0{$name} = time * 1000;
        $redis->cmd('HSET', 'replicas:ws:bench1', 'name', $name);
        $redis->cmd('PUBLISH', 'replicas:ws-changed', 'bench1');
        sleep 0.05;
    }
    sleep 0.5;
    $in->autoflush(1);
    print $in "done\n";
    $line = <$out> // '';
    $line =~ /^seen (.*)$/ or die "the page: $line";
    my $seen = JSON::PP->new->decode($1);
    my @lat = map { $seen->{$_} - $t0{$_} } grep { defined $seen->{$_} } keys %t0;
    printf "a change published -> its text in the page (%d of %d seen): median %.1f ms, p95 %.1f ms (target <= 50 ms)\n",
           scalar @lat, $n, pct(0.5, @lat), pct(0.95, @lat);

    $line = <$out> // '';
    $line =~ /^chat ready/ or die "the page's chat: $line";
    my (%e0, $en);
    $en = $ENV{BENCH_ENGINE_ROUNDS} // 50;
    for my $i (1 .. $en) {
        my $text = "engine-$i";
        $e0{$text} = time * 1000;
        my $res = http_request(port => 3737, addr => $eaddr, host => "$eaddr:3737", method => 'POST',
                               path => '/messages', headers => [['Content-Type', 'application/json']],
                               body => encode_json({ seq => $i, text => $text, chat => 'default',
                                                     user => $me->{user}, at => int time }));
        die "the engine took no message: $res->{status} $res->{body}\n" unless $res->{status} =~ /^20/;
        sleep 0.1;
    }
    sleep 0.5;
    print $in "done\n";
    close $in;
    $line = <$out> // '';
    waitpid $pid, 0;
    $line =~ /^chat (.*)$/ or die "the page's chat: $line";
    my $chat = JSON::PP->new->decode($1);
    my @elat = map { $chat->{$_} - $e0{$_} } grep { defined $chat->{$_} } keys %e0;
    printf "an engine's event (message.received) -> its text in the chat (%d of %d seen): median %.1f ms, "
         . "p95 %.1f ms (target <= 50 ms)\n", scalar @elat, $en, pct(0.5, @elat), pct(0.95, @elat);
}

Test::More::done_testing();
