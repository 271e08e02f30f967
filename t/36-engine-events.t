# replicas-engine's event stream on its own (no sandbox): GET /events as
# server-sent events (hooks, messages, the claim; ids increasing, resume
# with Last-Event-ID or ?after=, heartbeats, several streams, clients that
# leave), ?format=json, ids and resume across a restart, replay from the
# file past the ring and events.gap past the file's rotation, WebSocket.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use IO::Select;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Replicas::Test qw(objs_dir engine_bin tmpdir free_port wait_port http_request
                      http_json poll_until ws_connect);

my $bin = engine_bin();
ok(-x $bin, 'replicas-engine is built') or BAIL_OUT("build it first: $bin");

my $dir = tmpdir();
my $state = "$dir/state";
my $work = "$dir/work";
mkdir $work;

my ($engine, $port);

sub start_engine {
    $port = free_port();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/engine.log";
        open STDERR, '>&', \*STDOUT;
        $ENV{HOME} = "$dir/home";
        delete $ENV{REPLICAS_WORKSPACE};        # a warm engine: claimed by /start
        $ENV{REPLICAS_ENGINE_HEARTBEAT_MS} = 200;
        exec $bin, 'serve', '--listen', "127.0.0.1:$port",
             '--state-dir', $state, '--workdir', $work
            or POSIX::_exit(127);
    }
    $engine = $pid;
    wait_port('127.0.0.1', $port, 10) or die "the engine did not listen on $port";
}

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

sub json_events {
    my ($after) = @_;
    my ($st, $j) = api('GET', '/events?format=json' . (defined $after ? "&after=$after" : ''));
    return $st == 200 ? $j : undef;
}

# (after a large id: the envelopes are not needed, JSON::PP is slow)
sub last_id { json_events('999999999999999999')->{last_id} }

# --- a small SSE client: chunked decoding and event blocks -------------------
{
    package SSE;

    sub open {
        my ($class, %o) = @_;
        my $self = bless { raw => '', data => '', eof => 0, status => 0,
                           headers => {} }, $class;
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $o{port}, Proto => 'tcp', Timeout => 5) or return $self;
        $self->{sock} = $sock;
        my $req = "GET " . ($o{path} // '/events') . " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            . "Accept: text/event-stream\r\n";
        $req .= "$_->[0]: $_->[1]\r\n" for @{ $o{headers} // [] };
        local $SIG{PIPE} = 'IGNORE';
        syswrite($sock, "$req\r\n");

        my $deadline = Time::HiRes::time() + 10;
        while ($self->{raw} !~ /\r\n\r\n/) {
            $self->_read($deadline) or return $self;
        }
        $self->{raw} =~ s/^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n//s;
        $self->{status} = $1;
        for (split /\r\n/, $2) {
            my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
            $self->{headers}{lc $k} = $v;
        }
        return $self;
    }

    sub _read {
        my ($self, $deadline) = @_;
        return 0 unless $self->{sock};
        my $left = $deadline - Time::HiRes::time();
        return 0 if $left <= 0;
        IO::Select->new($self->{sock})->can_read($left) or return 0;
        my $n = sysread($self->{sock}, $self->{raw}, 65536, length $self->{raw});
        if (!$n) { $self->{eof} = 1; return 0 }
        # the body is chunked: complete chunks into data
        while ($self->{raw} =~ /^([0-9a-fA-F]+)\r\n/) {
            my ($hl, $len) = (length($1) + 2, hex $1);
            if ($len == 0) { $self->{end} = 1; last }
            last if length $self->{raw} < $hl + $len + 2;
            $self->{data} .= substr($self->{raw}, $hl, $len);
            substr($self->{raw}, 0, $hl + $len + 2, '');
        }
        return 1;
    }

    # the next block: {comment} or {id, event, data, env}; undef at the end
    # or past the timeout
    sub next {
        my ($self, $timeout) = @_;
        my $deadline = Time::HiRes::time() + ($timeout // 10);
        while (1) {
            if ($self->{data} =~ s/^(.*?)\n\n//s) {
                my $block = $1;
                my %e;
                for my $line (split /\n/, $block) {
                    if ($line =~ /^:\s?(.*)$/) { $e{comment} = $1; next }
                    my ($k, $v) = $line =~ /^([a-z]+): ?(.*)$/ or next;
                    $e{$k} = $v;
                }
                # the 100 kB ones are looked at as text only
                $e{env} = eval { JSON::PP->new->decode($e{data}) }
                    if defined $e{data} && length $e{data} < 20000;
                return \%e;
            }
            return undef if $self->{end} || $self->{eof};
            $self->_read($deadline) or return undef;
        }
    }

    # the next event (heartbeats skipped)
    sub next_event {
        my ($self, $timeout) = @_;
        my $deadline = Time::HiRes::time() + ($timeout // 10);
        while (1) {
            my $left = $deadline - Time::HiRes::time();
            return undef if $left <= 0;
            my $e = $self->next($left) or return undef;
            return $e unless defined $e->{comment} && !defined $e->{event};
        }
    }

    # events until one of type (included), heartbeats skipped
    sub until_type {
        my ($self, $type, $timeout) = @_;
        my $deadline = Time::HiRes::time() + ($timeout // 10);
        my @got;
        while (1) {
            my $e = $self->next_event($deadline - Time::HiRes::time()) or return (\@got, undef);
            push @got, $e;
            return (\@got, $e) if ($e->{event} // '') eq $type;
        }
    }

    sub close { my ($self) = @_; close $self->{sock} if $self->{sock}; delete $self->{sock} }
}

sub ids { [ map { $_->{id} } grep { defined $_->{id} } @{ $_[0] } ] }
sub increasing {
    my ($ids) = @_;
    for my $i (1 .. $#$ids) { return 0 unless $ids->[$i] == $ids->[$i - 1] + 1 }
    return 1;
}

start_engine();

# --- a stream: the status first, then what happens -----------------------------
my $s1 = SSE->open(port => $port);
is($s1->{status}, 200, 'GET /events: 200');
like($s1->{headers}{'content-type'}, qr{^text/event-stream}, 'text/event-stream');
is($s1->{headers}{'cache-control'}, 'no-store', 'not cached');
my $e = $s1->next_event(10);
is($e->{event}, 'engine.status', 'a new stream starts with engine.status');
ok(!defined $e->{id}, 'which has no SSE id (it is not stored)');
is($e->{env}{type}, 'engine.status', 'the envelope says so too');
like($e->{env}{ts}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ts in UTC with ms');
is_deeply([ @{ $e->{env}{payload} }{qw(busy hooks messages workspace version)} ],
          [ JSON::PP::false, { start => 'none' }, { count => 0, last_seq => 0 }, undef, '0.1.0' ],
          'engine.status: like /healthz');
my $ready_id = $e->{env}{id};
ok($ready_id >= 1, 'its id is the position: engine.ready came before');

# a stream opened without after= gets only new events: not engine.ready
my ($st, $j) = api('POST', '/start', { workspace => 'wsev', env => { SECRET_VALUE => 'sekrit-123' },
    startHook => { commands => ['echo from-the-hook'] }, cwd => $work });
is($st, 202, '/start: 202');
my ($got, $done) = $s1->until_type('hook.completed', 15);
ok($done, 'hook.completed arrives') or diag(explain($got));
is_deeply([ map { $_->{event} } @$got ], [qw(workspace.claimed hook.started hook.completed)],
          'workspace.claimed, hook.started, hook.completed, nothing before');
is($got->[0]{env}{payload}{workspace}, 'wsev', 'the claimed workspace');
is($got->[0]{id}, $ready_id + 1, 'ids go on from the last stored event');
is_deeply([ @{ $got->[1]{env}{payload} }{qw(hook state commands)} ], ['start', 'running', 1],
          'hook.started: {hook, state, commands}');
is_deeply([ @{ $done->{env}{payload} }{qw(hook state exit)} ], ['start', 'succeeded', 0],
          'hook.completed: {hook, state, exit}');
for my $x (@$got) {
    is($x->{id}, $x->{env}{id}, "$x->{event}: the SSE id is the envelope's");
    is($x->{event}, $x->{env}{type}, "$x->{event}: the SSE event is the envelope's type");
}
ok(increasing(ids($got)), 'ids increase one by one');
ok(!grep({ encode_json($_->{env}) =~ /sekrit-123/ } @$got), 'no environment value in any event');

($st, $j) = api('POST', '/messages', { seq => 1, text => "hello-text\nevents", chat => 'c-1', user => 'u1', at => 5 });
is($st, 202, 'a message: stored');
($got, $done) = $s1->until_type('message.received', 10);
ok($done, 'message.received arrives');
is_deeply([ @{ $done->{env}{payload} }{qw(seq text chat user position)} ],
          [1, "hello-text\nevents", 'c-1', 'u1', 0], 'message.received: seq, text, chat, user, position');
is($done->{id}, $got->[0]{id}, 'right after the hook\'s events') if @$got == 1;

# heartbeats in silence (200 ms here, 15 s by default)
my $hb = poll_until(10, sub { my $b = $s1->next(1); $b && defined $b->{comment} && $b->{comment} eq 'heartbeat' });
ok($hb, 'a heartbeat comment in silence');

# --- ?format=json ---------------------------------------------------------------
my $all = json_events(0);
ok($all && @{ $all->{events} } >= 5, '?format=json: what is in memory');
is($all->{events}[0]{id}, 1, 'from id 1');
ok(increasing([ map { $_->{id} } @{ $all->{events} } ]), 'ids increasing by one');
is($all->{last_id}, $all->{events}[-1]{id}, 'last_id');
is($all->{events}[0]{type}, 'engine.ready', 'the first is engine.ready');
is_deeply($all->{events}[0]{payload}, { version => '0.1.0', workspace => undef },
          'engine.ready {version, workspace}');
my $mid = $all->{events}[2]{id};
my $tail = json_events($mid);
is_deeply($tail->{events}, [ @{ $all->{events} }[3 .. $#{ $all->{events} }] ], '&after=N: only ids above N');
ok(!grep({ $_->{type} =~ /^(engine\.status|events\.gap)$/ } @{ $all->{events} }),
   'engine.status and events.gap are never stored');

# --- resume -------------------------------------------------------------------------
my $last = last_id();
my $s2 = SSE->open(port => $port, headers => [[ 'Last-Event-ID', $mid ]]);
$e = $s2->next_event(10);
is($e->{event}, 'engine.status', 'a resumed stream starts with engine.status too');
is($e->{env}{id}, $mid, 'at the position asked for');
my @resumed;
while (my $x = $s2->next(3)) {
    last if defined $x->{comment};          # the first heartbeat: all sent
    push @resumed, $x;
}
is_deeply(ids(\@resumed), [ $mid + 1 .. $last ], 'Last-Event-ID: exactly the events after it');
is_deeply([ map { $_->{env} } @resumed ], $tail->{events}, 'the same envelopes as ?format=json');
$s2->close;

my $s3 = SSE->open(port => $port, path => "/events?after=$mid");
$s3->next_event(10);
@resumed = ();
while (my $x = $s3->next(3)) { last if defined $x->{comment}; push @resumed, $x }
is_deeply(ids(\@resumed), [ $mid + 1 .. $last ], '?after=N: the same');
$s3->close;

my $s4 = SSE->open(port => $port, path => "/events?after=0", headers => [[ 'Last-Event-ID', $last - 1 ]]);
$s4->next_event(10);
$e = $s4->next_event(10);
is($e->{id}, $last, 'Last-Event-ID wins over ?after (an EventSource reconnecting)');
$s4->close;

# ids from another life: told, then the new ones
my $s5 = SSE->open(port => $port, headers => [[ 'Last-Event-ID', 999999 ]]);
$s5->next_event(10);
$e = $s5->next_event(10);
is($e->{event}, 'events.gap', 'an id past the last: events.gap');
is_deeply($e->{env}{payload}, { after => 999999, first => $last + 1 }, 'with where it goes on');
$s5->close;

for my $bad ('/events?after=abc', '/events?after=-1', '/events?format=xml', '/events?after=1e3') {
    ($st, $j) = api('GET', $bad);
    is($st, 400, "$bad: 400");
    is($j->{error}{code}, 'invalid_request', "$bad: invalid_request");
}
($st, $j) = api('GET', '/events', undef, headers => [[ 'Last-Event-ID', 'x' ]]);
is($st, 400, 'a bad Last-Event-ID: 400');
($st, $j, my $r) = api('POST', '/events', '{}');
is($st, 405, 'POST /events: 405');
is($r->{headers}{allow}, 'GET, HEAD', 'GET, HEAD');

# --- several streams, and clients that leave ---------------------------------------------
sub threads { my @t = glob("/proc/$engine/task/*"); scalar @t }
my $threads = threads();
my @many = map { SSE->open(port => $port) } 1 .. 6;
ok(!grep({ $_->{status} != 200 } @many), 'six streams at once');
$_->next_event(10) for @many;                   # engine.status
# clients that leave: mid-stream, before the answer, half a request
for (1 .. 5) {
    my $gone = SSE->open(port => $port, path => '/events?after=0');
    $gone->next(5);
    $gone->close;
    my $rude = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
    syswrite($rude, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n") if $rude;
    close $rude if $rude;
    my $half = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Proto => 'tcp');
    syswrite($half, "GET /events HTT") if $half;
    close $half if $half;
}
($st, $j) = api('POST', '/messages', { seq => 2, text => 'to everyone', chat => 'c-1' });
is($st, 202, 'a message while streams come and go');
my $n = 0;
for my $s (@many) {
    my ($g, $d) = $s->until_type('message.received', 10);
    $n++ if $d && $d->{env}{payload}{seq} == 2;
}
is($n, 6, 'every stream gets it');
$_->close for @many;
($st, $j) = api('GET', '/healthz');
is($st, 200, 'the engine still answers after clients left');

# the threads of streams whose client left end (at their next heartbeat)
ok(poll_until(15, sub { threads() <= $threads }), 'the streams\' threads end once their clients are gone')
    or diag("threads: " . threads() . " before: $threads");

# HEAD: the headers only
($st, undef, $r) = api('HEAD', '/events');
is($st, 200, 'HEAD /events: 200');
like($r->{headers}{'content-type'} // '', qr{^text/event-stream}, 'as a stream');

# --- WebSocket ------------------------------------------------------------------------------------
my $ws = ws_connect(port => $port, host => "127.0.0.1:$port", path => "/events?after=$mid");
is($ws->status, 101, 'WebSocket on /events: 101');
my $first = eval { decode_json($ws->recv_text(10) // '') };
is($first->{type}, 'engine.status', 'the status first');
my @wsev;
for ($mid + 1 .. last_id()) {
    my $t = $ws->recv_text(10);
    $t = $ws->recv_text(10) while defined $t && $t eq '';     # a ping
    push @wsev, eval { decode_json($t // '') };
}
is_deeply([ map { $_ && $_->{id} } @wsev ], [ $mid + 1 .. last_id() ], 'then the events after=N, one text frame each');
api('POST', '/messages', { seq => 3, text => 'over ws' });
my $m;
poll_until(10, sub { my $t = $ws->recv_text(5); $m = eval { decode_json($t) } if defined $t && length $t;
                     $m && $m->{type} eq 'message.received' });
is($m && $m->{payload}{text}, 'over ws', 'a new event arrives over the WebSocket');
# pings in silence: recv_text answers '' for one
ok(poll_until(10, sub { my $t = $ws->recv_text(2); defined $t && $t eq '' }), 'pings in silence');
$ws->send_text('ignored');
$ws->close;
my $bad_ws = http_request(port => $port, raw => "GET /events HTTP/1.1\r\nHost: x\r\n"
    . "Upgrade: websocket\r\nConnection: Upgrade\r\nConnection: close\r\n\r\n");
is($bad_ws->{status}, 400, 'an upgrade without Sec-WebSocket-Key: 400');

# --- a restart: the stream ends with engine.stopping, ids go on ------------------------------------
my $s6 = SSE->open(port => $port);
$s6->next_event(10);
my $ws2 = ws_connect(port => $port, host => "127.0.0.1:$port", path => '/events');
is($ws2->status, 101, 'a WebSocket open too');
$ws2->recv_text(10);
my $before = last_id();
is(stop_engine(), 0, 'SIGTERM with streams open: a clean exit');
my $wsstop;
poll_until(5, sub { my $t = $ws2->recv_text(2); $wsstop = eval { decode_json($t) } if defined $t && length $t;
                    !defined $t || ($wsstop && $wsstop->{type} eq 'engine.stopping') });
is($wsstop && $wsstop->{type}, 'engine.stopping', 'the WebSocket gets engine.stopping');
ok(!defined $ws2->recv_text(5), 'then a close');
($got, $done) = $s6->until_type('engine.stopping', 5);
ok($done, 'an open stream gets engine.stopping');
is($done && $done->{id}, $before + 1, 'the next id');
ok(!$s6->next(5) && $s6->{end}, 'then its end (the last chunk)');
$s6->close;

my @lines = do { open my $fh, '<', "$state/events.jsonl" or die; <$fh> };
is(scalar @lines, $before + 1, 'events.jsonl: one line per event');
is(decode_json($lines[-1])->{type}, 'engine.stopping', 'the last one engine.stopping');

start_engine();
$all = json_events(0);
is($all->{events}[0]{id}, 1, 'after a restart: the old events in memory');
my ($rd) = grep { $_->{type} eq 'engine.ready' && $_->{id} > $before } @{ $all->{events} };
is($rd && $rd->{id}, $before + 2, 'ids go on across the restart (engine.ready)');
ok(increasing([ map { $_->{id} } @{ $all->{events} } ]), 'still one by one');
$last = last_id();
my $s7 = SSE->open(port => $port, headers => [[ 'Last-Event-ID', $before - 1 ]]);
$s7->next_event(10);
@resumed = ();
while (my $x = $s7->next(3)) { last if defined $x->{comment}; push @resumed, $x }
is_deeply([ map { $_->{event} } @resumed[1, 2] ], [ 'engine.stopping', 'engine.ready' ],
          'a resume across the restart gets what it missed');
is_deeply(ids(\@resumed), [ $before .. $last ], 'by id');
$s7->close;

# a line cut by a crash is skipped, ids go on
stop_engine();
open my $fh, '>>', "$state/events.jsonl" or die;
print $fh '{"id":99999,"ts":"x","ty';
close $fh;
start_engine();
ok(last_id() < 99999, 'a torn last line is skipped');
api('POST', '/messages', { seq => 4, text => 'after a tear' });
ok(poll_until(10, sub { (json_events(0)->{events}[-1]{payload}{text} // '') eq 'after a tear'
                        || grep { ($_->{payload}{text} // '') eq 'after a tear' } @{ json_events(0)->{events} } }),
   'and new events are appended on a line of their own');
stop_engine();
@lines = do { open my $fh2, '<', "$state/events.jsonl" or die; <$fh2> };
is(scalar(grep { !eval { decode_json($_) } } @lines), 1, 'only the torn line is not JSON');
start_engine();

# --- past the ring: replayed from the file; past the file: events.gap -------------------------------
# 100 kB events: the ring keeps ~8 MiB of them, the file 16 MiB
my $big = 'x' x 100000;
my $seq = 100;
my $first_big = last_id() + 1;
for (1 .. 100) {
    ($st) = api('POST', '/messages', { seq => $seq++, text => $big });
}
$all = json_events('999999999999999999');
ok($all->{first_id} > 1, 'the ring dropped the oldest (' . $all->{first_id} . ')');
my $s8 = SSE->open(port => $port, path => '/events?after=0');
$s8->next_event(10);
my @replay;
while (my $x = $s8->next(5)) { last if defined $x->{comment}; push @replay, $x }
$s8->close;
is($replay[0]{id}, 1, 'after=0: from the first event, from the file');
ok(increasing(ids(\@replay)), 'then the ring, without a gap')
    or diag(join ' ', map { ($_->{id} // '-') . ':' . $_->{event} } @replay);
is($replay[-1]{id}, last_id(), 'to the last');
ok(!grep({ $_->{event} eq 'events.gap' } @replay), 'no events.gap');

for (1 .. 80) {
    ($st) = api('POST', '/messages', { seq => $seq++, text => $big });
}
ok(-s "$state/events.jsonl" < 16 * 1024 * 1024, 'the file was started afresh past 16 MiB');
my $head = decode_json((do { open my $fh3, '<', "$state/events.jsonl" or die; scalar <$fh3> }));
ok($head->{id} > 1, "keeping the last events (from $head->{id})");
my $s9 = SSE->open(port => $port, path => '/events?after=3');
$s9->next_event(10);
@replay = ();
while (my $x = $s9->next(5)) { last if defined $x->{comment}; push @replay, $x }
$s9->close;
is($replay[0]{event}, 'events.gap', 'past the file: events.gap first');
is_deeply($replay[0]{env}{payload}, { after => 3, first => $head->{id} }, 'saying where it goes on');
shift @replay;
is($replay[0]{id}, $head->{id}, 'then from the first event kept');
ok(increasing(ids(\@replay)), 'one by one');
is($replay[-1]{id}, last_id(), 'to the last');
my ($lastmsg) = grep { $_->{event} eq 'message.received' } reverse @replay;
ok(length($lastmsg->{data}) > 100000, 'whole events of 100 kB');

stop_engine();
start_engine();
$all = json_events($replay[-1]{id});
($rd) = grep { $_->{type} eq 'engine.ready' } reverse @{ $all->{events} };
is($rd && $rd->{id}, $replay[-1]{id} + 2, 'ids go on after a rotation and a restart');

ok(!grep({ /sekrit-123|hello-text|from-the-hook/ } split /\n/, do { local $/; open my $l, '<', "$dir/engine.log"; <$l> // '' }),
   'the engine log has no message text, hook output or environment value');
my $file = do { local $/; open my $f, '<', "$state/events.jsonl"; <$f> // '' };
ok($file !~ /sekrit-123/, 'and no event has an environment value');

# --- queue_full: a workspace has at most 32 chats --------------------------------------
# a message to a chat not made yet makes it; past the limit, 429
my ($full, @codes);
for my $i (1 .. 40) {
    ($st, $j) = api('POST', '/messages', { seq => $seq++, text => 'hi', chat => "q-$i" });
    push @codes, $st;
    if ($st == 429) { $full = $j; last }
}
ok($full, 'past 32 chats a message is refused') or diag("statuses: @codes");
is($full && $full->{error}{code}, 'queue_full', 'queue_full');
ok(@codes <= 32 && !grep({ $_ != 202 } @codes[0 .. $#codes - 1]),
   'after at most 32 new chats, the others taken (202)') or diag("statuses: @codes");

done_testing();
