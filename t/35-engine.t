# replicas-engine on its own (no sandbox): /healthz, the start hook
# (separate or one script, failures, timeouts, background servers, busy),
# the message queue with its duplicates and its file across a restart,
# the `hook` subcommand's exit codes, and bad input to every endpoint.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use Replicas::Test qw(objs_dir engine_bin tmpdir free_port wait_port http_request
                      http_json poll_until);

my $bin = engine_bin();
ok(-x $bin, 'replicas-engine is built') or BAIL_OUT("build it first: $bin");

my $dir = tmpdir();
my $state = "$dir/state";
my $work = "$dir/work";
my $home = "$dir/home/not/yet";
mkdir $work;
mkdir "$work/app";

my ($engine, $port);
my @strays;           # pids of background processes the hooks started

sub start_engine {
    $port = free_port();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/engine.log";
        open STDERR, '>&', \*STDOUT;
        $ENV{HOME} = $home;
        $ENV{REPLICAS_WORKSPACE} = 'wsone';
        $ENV{ENGINE_OWN} = 'from-engine';
        exec $bin, 'serve', '--listen', "127.0.0.1:$port",
             '--state-dir', $state, '--workdir', $work
            or POSIX::_exit(127);
    }
    $engine = $pid;
    wait_port('127.0.0.1', $port, 10) or die "the engine did not listen on $port";
}

# SIGTERM, then the exit status (KILL after a bounded wait)
sub stop_engine {
    return undef unless $engine;
    kill 'TERM', $engine;
    my $status;
    if (poll_until(20, sub { waitpid($engine, WNOHANG) == $engine })) {
        $status = $?;
    } else {
        kill 'KILL', $engine;
        waitpid $engine, 0;
    }
    undef $engine;
    return $status;
}

END {
    my $status = $?;
    stop_engine();
    kill 'KILL', $_ for grep { $_ } @strays;
    $? = $status;
}

# the engine takes JSON only on POST and PUT (415 else): what its clients send
sub api {
    my ($method, $path, $body, %o) = @_;
    my @type = $method =~ /^(POST|PUT)$/ || defined $body
             ? ([ 'Content-Type', 'application/json' ]) : ();
    my $r = http_request(port => $port, host => "127.0.0.1:$port",
        method => $method, path => $path,
        (defined $body ? (body => ref $body ? encode_json($body) : $body) : ()),
        %o, headers => [ @type, @{ $o{headers} // [] } ]);
    return ($r->{status}, scalar http_json($r), $r);
}

sub healthz { (api('GET', '/healthz'))[1] }
sub start_hook { (api('GET', '/hooks'))[1]{start} }
sub err_code { $_[0] && $_[0]{error} ? $_[0]{error}{code} : '' }

# runs a start hook to its end: the final {state, exit, log, ...}
sub run_hook {
    my ($hook, %o) = @_;
    my ($st, $j) = api('POST', '/start', { env => $o{env} // {},
        startHook => $hook, cwd => $o{cwd} // "$work/app" });
    is($st, 202, "$o{name}: 202");
    is($j->{hook}, 'running', "$o{name}: running") if $hook;
    my $h = poll_until(30, sub { my $s = start_hook(); $s->{state} ne 'running' && $s });
    ok($h, "$o{name}: the hook ends") or diag(explain(start_hook()));
    return $h || {};
}

sub slurp {
    open my $fh, '<', $_[0] or return undef;
    local $/;
    return scalar <$fh>;
}

sub alive { my ($pid) = @_; $pid && kill(0, $pid) && (slurp("/proc/$pid/stat") // '') !~ /^\d+ \(.*\) Z/ }

start_engine();

# --- /healthz -------------------------------------------------------------
my ($st, $j) = api('GET', '/healthz');
is($st, 200, 'healthz: 200');
is($j->{ok}, JSON::PP::true, 'ok');
is($j->{version}, '0.1.0', 'version');
is($j->{workspace}, 'wsone', 'the workspace from REPLICAS_WORKSPACE');
ok(defined $j->{uptime} && $j->{uptime} >= 0, 'uptime in seconds');
is($j->{busy}, JSON::PP::false, 'not busy');
is_deeply($j->{hooks}, { start => 'none' }, 'no start hook yet');
is_deeply($j->{messages}, { count => 0, last_seq => 0 }, 'no messages yet');
is($j->{agent}, 'claude', "the workspace's agent");
is_deeply($j->{chats}, [], 'no chats yet');
is_deeply($j->{repositories}, [], 'no repositories in an empty workdir');

is_deeply(start_hook(), { state => 'none', exit => undef, started_at => undef,
                          ended_at => undef, log => '' }, '/hooks before any run');
($st, undef, my $r) = api('GET', '/hooks/start/log');
is($st, 200, 'the log before any run: 200');
is($r->{body}, '', 'and empty');

# --- the start hook ---------------------------------------------------------
my $h = run_hook({ commands => ['echo hello-$GREETING-$ENGINE_OWN',
                                'echo made > made.txt',
                                'test -d "$HOME" && echo home-ok'] },
                 env => { GREETING => 'world' }, name => 'a hook');
is($h->{state}, 'succeeded', 'it succeeded');
is($h->{exit}, 0, 'exit 0');
ok($h->{started_at} && $h->{ended_at} && $h->{ended_at} >= $h->{started_at}, 'start and end times');
is(slurp("$work/app/made.txt"), "made\n", 'it ran in cwd');
like($h->{log}, qr/^hello-world-from-engine$/m, 'the env of /start over the engine\'s own');
like($h->{log}, qr/^home-ok$/m, '$HOME is made when missing');
like($h->{log}, qr/^\[replicas\] start hook at .*3 commands/m, 'a header line per run');
($st, undef, $r) = api('GET', '/hooks/start/log');
is($st, 200, 'the full log');
like($r->{headers}{'content-type'}, qr{^text/plain}, 'as text');
like($r->{body}, qr/^hello-world-from-engine$/m, 'with the output');
is(healthz()->{hooks}{start}, 'succeeded', 'healthz has the state');

# a background server outlives its hook, which ends anyway
$h = run_hook({ commands => ['sleep 300 & echo $! > bg.pid', 'echo next'] },
              name => 'a background process');
is($h->{state}, 'succeeded', 'the hook ends while its background process runs');
chomp(my $bg = slurp("$work/app/bg.pid") // '');
push @strays, $bg;
ok(alive($bg), 'the background process still runs');
kill 'KILL', $bg;

# separate: every command runs, the hook failed if one did
unlink "$work/app/sep.txt";
$h = run_hook({ commands => ['echo one >> sep.txt', 'exit 3', 'echo three >> sep.txt'],
                separate => JSON::PP::true }, name => 'separate');
is($h->{state}, 'failed', 'separate: failed');
is($h->{exit}, 3, 'with the failing command\'s exit');
is(slurp("$work/app/sep.txt"), "one\nthree\n", 'later commands ran after the failure');

# one script: stops at the first failure
unlink "$work/app/scr.txt";
$h = run_hook({ commands => ['echo one >> scr.txt', 'false', 'echo three >> scr.txt'],
                separate => JSON::PP::false }, name => 'one script');
is($h->{state}, 'failed', 'one script: failed');
is($h->{exit}, 1, 'exit 1');
is(slurp("$work/app/scr.txt"), "one\n", 'nothing after the failure ran');

# a missing directory fails the hook, it does not break the engine
$h = run_hook({ commands => ['true'] }, cwd => "$work/nowhere", name => 'a missing cwd');
is($h->{state}, 'failed', 'a missing cwd: failed');

# past its timeout: timed_out, the command and its group gone
$h = run_hook({ commands => ['echo $$ > to.pid; sleep 300 & echo $! > to-bg.pid; wait'],
                timeout => 300 }, name => 'a timeout');
is($h->{state}, 'timed_out', 'timed_out');
chomp(my $to = slurp("$work/app/to.pid") // '');
chomp(my $tobg = slurp("$work/app/to-bg.pid") // '');
push @strays, $to, $tobg;
ok($to && poll_until(10, sub { !alive($to) }), 'the timed-out command is gone');
ok($tobg && poll_until(10, sub { !alive($tobg) }), 'and what it started in its group');

# busy while a hook runs; a second /start while it runs restarts nothing
unlink "$work/app/go", "$work/app/runs";
($st, $j) = api('POST', '/start', { env => {}, cwd => "$work/app", startHook => {
    commands => ['echo run >> runs; while [ ! -e go ]; do sleep 0.05; done'] } });
is($st, 202, 'a long hook: 202');
ok(poll_until(10, sub { -e "$work/app/runs" }), 'it runs');
is(healthz()->{busy}, JSON::PP::true, 'busy while a hook runs');
is(healthz()->{hooks}{start}, 'running', 'state running');
($st, $j) = api('POST', '/start', { env => {}, cwd => "$work/app", startHook => {
    commands => ['echo other >> runs'] } });
is($st, 202, '/start again while it runs: 202');
is($j->{hook}, 'running', 'running');
open my $go, '>', "$work/app/go" or die;
close $go;
ok(poll_until(30, sub { start_hook()->{state} eq 'succeeded' }), 'the first hook ends');
is(slurp("$work/app/runs"), "run\n", 'nothing was restarted');
is(healthz()->{busy}, JSON::PP::false, 'not busy once it ended');

# no start hook
($st, $j) = api('POST', '/start', { env => {}, startHook => undef, cwd => $work });
is($st, 202, 'no start hook: 202');
is($j->{hook}, 'none', 'none');
is(healthz()->{hooks}{start}, 'none', 'state none');

# --- messages -----------------------------------------------------------------
my @msgs = map { { seq => $_, text => "message $_", chat => undef, user => 'u1',
                   at => 1700000000 + $_ } } 1 .. 3;
for my $i (0 .. 2) {
    ($st, $j) = api('POST', '/messages', $msgs[$i]);
    is($st, 202, "message $msgs[$i]{seq}: 202");
    # no agent is installed here: each turn fails at once (t/37 runs a
    # real one), so a message finds its chat idle or still ending one
    like($j->{status}, qr/^(sent|queued)$/, "message $msgs[$i]{seq} is taken by its chat");
    is($j->{seq}, $msgs[$i]{seq}, 'with its seq');
    ok(defined $j->{position} && $j->{position} >= 0, 'and its position');
}
($st, $j) = api('POST', '/messages', $msgs[1]);
is($st, 200, 'a redelivered seq: 200');
is($j->{status}, 'duplicate', 'duplicate');
($st, $j) = api('POST', '/messages', { seq => 4, text => 'in a chat', chat => 'side-2', user => 'u2', at => 5 });
is($st, 202, 'a message in a chat');
push @msgs, { seq => 4, text => 'in a chat', chat => 'side-2', user => 'u2', at => 5 };

($st, $j) = api('GET', '/messages');
is($st, 200, 'GET /messages');
my @got = map { my %m = %$_; delete $m{received_at}; \%m } @{ $j->{messages} };
is_deeply(\@got, \@msgs, 'every message once, in arrival order');
my $before = $j->{messages};
is_deeply(healthz()->{messages}, { count => 4, last_seq => 4 }, 'healthz counts them');

# --- bad input: the documented error, and the engine still answers ---------------
my @bad = (
    [POST => '/start', 'not json', 400, 'invalid_json'],
    [POST => '/start', '[]', 400, 'invalid_json'],
    [POST => '/start', '', 400, 'invalid_json'],
    [POST => '/start', '{"nope":1}', 400, 'invalid_request'],
    [POST => '/start', '{"env":{"1BAD":"x"}}', 400, 'invalid_request'],
    [POST => '/start', '{"env":{"A":1}}', 400, 'invalid_request'],
    [POST => '/start', '{"env":[]}', 400, 'invalid_request'],
    [POST => '/start', '{"cwd":"relative"}', 400, 'invalid_request'],
    [POST => '/start', '{"startHook":{"commands":[1]}}', 400, 'invalid_request'],
    [POST => '/start', '{"startHook":{"commands":["x"],"timeout":"5"}}', 400, 'invalid_request'],
    [POST => '/start', '{"startHook":{"commands":["x"],"timeout":0}}', 400, 'invalid_request'],
    [POST => '/start', '{"startHook":{"commands":["x"],"separate":1}}', 400, 'invalid_request'],
    [POST => '/start', '{"startHook":{"commands":["x"],"extra":1}}', 400, 'invalid_request'],
    [POST => '/start', '{"startHook":"echo"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,', 400, 'invalid_json'],
    [POST => '/messages', '{"seq":5,"text":"a","text":"b"}', 400, 'invalid_json'],
    [POST => '/messages', '{"text":"x"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":0,"text":"x"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":"5","text":"x"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5.5,"text":"x"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":""}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":7}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"' . ('x' x 100001) . '"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","chat":"Bad Chat"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","kind":"CI Failure"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","kind":""}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","kind":["a"]}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","chat":"' . ('a' x 65) . '"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","user":"' . ('u' x 65) . '"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","user":5}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","at":"now"}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"x","extra":true}', 400, 'invalid_request'],
    [POST => '/messages', '{"seq":5,"text":"a\u0000b"}', 400, 'invalid_json'],
    [POST => '/messages', "{\"seq\":5,\"text\":\"\xff\xfe\"}", 400, 'invalid_json'],
    [POST => '/messages', '{"seq":5,"text":"x"}' . ' ' x (1024 * 1024), 413, 'too_large'],
    [GET => '/nope', undef, 404, 'not_found'],
    [GET => '/healthz/', undef, 404, 'not_found'],
    [POST => '/hooks/start', '{}', 404, 'not_found'],
    [DELETE => '/healthz', undef, 405, 'method_not_allowed'],
    [GET => '/start', undef, 405, 'method_not_allowed'],
    [PUT => '/messages', '{}', 405, 'method_not_allowed'],
    [POST => '/hooks', '{}', 405, 'method_not_allowed'],
    [POST => '/hooks/start/log', '{}', 405, 'method_not_allowed'],
);
for my $b (@bad) {
    my ($m, $path, $body, $want, $code) = @$b;
    my $what = "$m $path " . (defined $body ? substr($body, 0, 40) : '');
    ($st, $j, $r) = api($m, $path, $body);
    is($st, $want, "$what: $want");
    is(err_code($j), $code, "$what: $code") or diag($r->{raw});
    like($j->{error}{message} // '', qr/\S/, "$what: with a message") if $j;
}
($st, $j, $r) = api('DELETE', '/messages');
is($r->{headers}{allow}, 'GET, HEAD, POST', '405 says what is allowed');
($st, $j) = api('POST', '/start', '{"bogus_field_name":1}');
like($j->{error}{message}, qr/unknown field "bogus_field_name"/, 'an unknown field is named');

# a body announced too large is refused before it is sent
$r = http_request(port => $port, raw => "POST /messages HTTP/1.1\r\nHost: x\r\n"
    . "Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n");
is($r->{status}, 413, 'Content-Length over 1 MiB: 413 at once');
is(err_code(http_json($r)), 'too_large', 'too_large');

# a chunked body (no length up front) past the limit
my $chunk = 'x' x (512 * 1024);
$r = http_request(port => $port, raw => "POST /messages HTTP/1.1\r\nHost: x\r\n"
    . "Content-Type: application/json\r\n"
    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . join('', map { sprintf("%x\r\n%s\r\n", length $chunk, $chunk) } 1 .. 3) . "0\r\n\r\n");
is($r->{status}, 413, 'a chunked body over 1 MiB: 413');

# a chunked body within the limit is fine
my $small = encode_json({ seq => 10, text => 'chunked' });
$r = http_request(port => $port, raw => "POST /messages HTTP/1.1\r\nHost: x\r\n"
    . "Content-Type: application/json\r\n"
    . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    . sprintf("%x\r\n%s\r\n0\r\n\r\n", length $small, $small));
is($r->{status}, 202, 'a chunked message within the limit: 202');
push @msgs, { seq => 10, text => 'chunked', chat => undef, user => undef, at => undef };

# JSON only on what changes state (issue 18): a page of another site can send
# text/plain, form and multipart bodies, or a POST with no body and no type,
# without a CORS preflight, never an application/json one; so those are 415,
# decided before the body is read, and nothing is queued or pushed
my $raw_post = sub {
    my ($path, $type, $body) = @_;
    my $r = http_request(port => $port, raw => "POST $path HTTP/1.1\r\nHost: x\r\n"
        . (defined $type ? "Content-Type: $type\r\n" : '')
        . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body");
    return ($r->{status}, scalar http_json($r), $r);
};
my $count_before = scalar @{ (api('GET', '/messages'))[1]{messages} };
my $cross = encode_json({ seq => 11, text => 'from another site' });
for my $case (['text/plain', $cross], ['text/plain;charset=UTF-8', $cross],
              ['application/x-www-form-urlencoded', 'seq=11&text=x'],
              ['multipart/form-data; boundary=b', "--b\r\nContent-Disposition: form-data; name=\"seq\"\r\n\r\n11\r\n--b--\r\n"],
              [undef, $cross], ['application/jsonx', $cross], ['application/json5', $cross],
              ['application/json; charset=latin1', $cross], ['application/json; foo=bar', $cross],
              ['text/json', $cross], ['', $cross]) {
    my ($type, $body) = @$case;
    my $what = 'POST /messages with ' . (defined $type ? "Content-Type: '$type'" : 'no Content-Type');
    ($st, $j, $r) = $raw_post->('/messages', $type, $body);
    is($st, 415, "$what: 415");
    is(err_code($j), 'unsupported_media_type', "$what: unsupported_media_type, as JSON")
        or diag($r->{raw});
}
is(scalar @{ (api('GET', '/messages'))[1]{messages} }, $count_before, 'none of them was queued');
for my $path ('/git/push?repo=app', '/git/update?repo=app', '/git/pull-request?repo=app',
              '/start', '/chats', '/chats/main/interrupt', '/previews') {
    ($st, $j) = $raw_post->($path, undef, '');
    is($st, 415, "an empty POST $path without a type: 415");
    ($st, $j) = $raw_post->($path, 'text/plain', '{}');
    is($st, 415, "POST $path as text/plain: 415");
}
for my $type ('application/json; charset=utf-8', 'Application/JSON ; Charset="UTF-8" ',
              "application/json;\tcharset=utf-8") {
    # an old seq: past the type, the duplicate answer
    ($st, $j) = $raw_post->('/messages', $type, encode_json({ seq => 10, text => 'typed' }));
    is($st, 200, "Content-Type: '$type' is JSON (the message read: a duplicate)");
}
$r = http_request(port => $port, raw => "DELETE /chats/nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
is($r->{status}, 404, 'a DELETE without a body needs no type (404 for no such chat)');
$r = http_request(port => $port, raw => "DELETE /chats/nope HTTP/1.1\r\nHost: x\r\n"
    . "Content-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
is($r->{status}, 415, 'a DELETE with a text/plain body: 415');
($st) = api('GET', '/messages', undef, headers => [[ 'Content-Type', 'text/plain' ]]);
is($st, 200, 'a GET is never refused for its type');

# not HTTP at all: refused or left to time out, never answered 200, and
# a client that sends nothing more blocks nobody else
$r = http_request(port => $port, raw => "GARBAGE\r\n\r\n", timeout => 3);
ok($r->{status} != 200, 'garbage is not answered 200');
my $stuck = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
syswrite($stuck, "\x00\x01garbage\r\n\r\nPOST /start HTTP/1.1\r\n") if $stuck;

($st, $j) = api('GET', '/healthz');
is($st, 200, 'after all that the engine still answers /healthz');
is_deeply($j->{messages}, { count => 5, last_seq => 10 }, 'and refused nothing it should not');
close $stuck if $stuck;

# --- restart: messages and the last seq survive --------------------------------
($st, $j) = api('GET', '/messages');
$before = $j->{messages};
my $last_hook = start_hook();
is(stop_engine(), 0, 'SIGTERM: a clean exit');
start_engine();
($st, $j) = api('GET', '/messages');
is_deeply($j->{messages}, $before, 'after a restart: the same messages');
($st, $j) = api('POST', '/messages', { seq => 3, text => 'old', chat => undef, user => 'u1', at => 1 });
is($j->{status}, 'duplicate', 'an old seq is still refused');
($st, $j) = api('POST', '/messages', { seq => 11, text => 'new', chat => undef, user => 'u1', at => 1 });
is($st, 202, 'a new seq is taken');
like($j->{status}, qr/^(sent|queued)$/, 'by its chat');
is_deeply(start_hook(), $last_hook, 'the hook state survives too');

# a restart while the hook runs: the hook ends with the engine, then failed
unlink "$work/app/go", "$work/app/long.pid";
api('POST', '/start', { env => {}, cwd => "$work/app", startHook => {
    commands => ['echo $$ > long.pid; while [ ! -e go ]; do sleep 0.05; done'] } });
ok(poll_until(10, sub { -s "$work/app/long.pid" }), 'a long hook runs');
chomp(my $long = slurp("$work/app/long.pid") // '');
push @strays, $long;
is(stop_engine(), 0, 'SIGTERM while a hook runs: a clean exit');
ok(!alive($long), 'the hook is stopped with the engine');
start_engine();
is(start_hook()->{state}, 'failed', 'after the restart: failed, not running forever');
is(healthz()->{busy}, JSON::PP::false, 'and not busy');

# --- replicas-engine hook ---------------------------------------------------------
sub hook_cmd {
    my ($json, $out) = @_;
    open my $fh, '>', "$dir/hook.json" or die;
    print $fh $json;
    close $fh;
    # stdout to a file, as the image build has it: a pipe would be held
    # open by a background process
    system("$bin hook --cwd $work/app < $dir/hook.json > $dir/hook.out 2>&1");
    return $? >> 8;
}
is(hook_cmd('{"commands":["echo warm-$((1+1))"]}'), 0, 'hook: succeeded, exit 0');
like(slurp("$dir/hook.out"), qr/^warm-2$/m, 'its output on stdout');
is(hook_cmd('{"commands":["exit 1","echo still"],"separate":true}'), 1, 'hook: failed, exit 1');
like(slurp("$dir/hook.out"), qr/^still$/m, 'separate: the rest still ran');
is(hook_cmd('{"commands":["exit 7"]}'), 7, 'hook: the failing command\'s exit');
is(hook_cmd('{"commands":["sleep 300"],"timeout":300}'), 124, 'hook: timed out, exit 124');
is(hook_cmd('{"commands":["sleep 300 & echo $! > hook-bg.pid"]}'), 0,
   'hook: a background process does not hold it');
chomp(my $hbg = slurp("$work/app/hook-bg.pid") // '');
push @strays, $hbg;
kill 'KILL', $hbg if $hbg;
is(hook_cmd('not json'), 2, 'hook: bad JSON, exit 2');
is(hook_cmd('{"commands":["x"],"nope":1}'), 2, 'hook: an unknown field, exit 2');

# the warm hook ran when the image was built: control leaves its outcome
# in the state dir, the engine shows it beside the start hook's
my (undef, $hooks) = api('GET', '/hooks');
is($hooks->{warm}{state}, 'none', 'no warm hook recorded: none');
open my $wj, '>', "$state/hooks/warm.json" or die;
print $wj '{"state":"succeeded","images":[{"repository":"app","sha":"abc","ran":true}]}';
close $wj;
open my $wl, '>', "$state/hooks/warm.log" or die;
print $wl "== app ==\nnpm ci: done\n";
close $wl;
(undef, $hooks) = api('GET', '/hooks');
is($hooks->{warm}{state}, 'succeeded', 'the warm hook as control recorded it');
like($hooks->{warm}{log}, qr/npm ci: done/, 'with its log');
is($hooks->{warm}{images}[0]{repository}, 'app', 'and what ran where');

ok(!grep({ /made|hello-world|message 1|chunked/ } split /\n/, slurp("$dir/engine.log") // ''),
   'the engine log has neither output nor message text');

done_testing();
