package Replicas::Test;

# The test harness: starts Redis, nginx with the freshly built module and
# upstream test servers on free loopback ports in a temp dir, and stops
# them all when the test ends, even when it dies.  Core Perl only (plus
# Debian's perl), so `prove` runs anywhere ./auto/test installed.
# Every wait here is bounded; nothing asserts a timing.

use strict;
use warnings;

use Exporter 'import';
use Cwd qw(abs_path);
use Digest::SHA qw(sha1);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use MIME::Base64 qw(encode_base64);
use POSIX qw(WNOHANG);
use Test::More ();
use Test2::API ();
use Time::HiRes qw(time sleep);

our @EXPORT_OK = qw(repo_root objs_dir engine_bin control_bin tmpdir free_port wait_port start_redis
                    start_nginx start_upstream http_request http_json
                    ws_connect poll_until nginx_log_clean_ok);

my @cleanup;    # objects to stop at END, newest first
my $tmpdir;

sub repo_root { return abs_path(dirname(__FILE__) . '/../../..') }

# the build folder (auto/lib.sh's RP_OBJS): REPLICAS_OBJS or objs/
sub objs_dir { return $ENV{REPLICAS_OBJS} // repo_root() . '/objs' }

# the engine tests run on the host: the build's, or (auto/test's
# sanitizer pass) one built with AddressSanitizer
sub engine_bin { $ENV{REPLICAS_ENGINE} // objs_dir() . '/replicas-engine' }

# replicas-control the same way (REPLICAS_CONTROL: auto/test's sanitizer
# pass builds it with AddressSanitizer and UBSan)
sub control_bin { $ENV{REPLICAS_CONTROL} // objs_dir() . '/replicas-control' }

sub tmpdir {
    $tmpdir //= tempdir('replicas-test-XXXXXX', TMPDIR => 1,
                        CLEANUP => !$ENV{REPLICAS_KEEP_TMP});
    chmod 0755, $tmpdir;
    return $tmpdir;
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "free_port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

sub wait_port {
    my ($addr, $port, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(PeerAddr => $addr, PeerPort => $port,
                                      Proto => 'tcp', Timeout => 1);
        if ($s) { close $s; return 1 }
        sleep 0.02;
    }
    return 0;
}

sub poll_until {
    my ($timeout, $code) = @_;
    my $deadline = time + $timeout;
    my $v;
    while (1) {
        $v = $code->();
        return $v if $v || time >= $deadline;
        sleep 0.02;
    }
}

sub _spawn {
    my (@cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

# Stops pid with sig, then KILL after a bounded wait; reaps it.
sub _stop_pid {
    my ($pid, $sig, $wait) = @_;
    return unless $pid;
    kill $sig, $pid;
    my $deadline = time + ($wait // 10);
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) != 0;
        sleep 0.02;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

END {
    my $status = $?;
    for my $obj (@cleanup) {
        eval { $obj->stop };
    }
    $? = $status;
}

# Every nginx a test started is checked when the test says it is done
# (done_testing): stopped first, so what a worker reports on its way out
# is in too, then its error log and AddressSanitizer reports read; one
# test per instance.  A worker that hit an ASan error is replaced by the
# master (abort_on_error=0): this is where its report fails the test,
# before the temp dir goes.
my @nginx_started;
Test2::API::test2_add_callback_testing_done(sub {
    for my $nginx (@nginx_started) {
        $nginx->stop;
        nginx_log_clean_ok($nginx);
    }
    @nginx_started = ();
});

# --- Redis ------------------------------------------------------------------

# start_redis(aof => 1): every write in an append-only file, synced at
# once, so kill9 then restart brings it all back (the fault tests)
sub start_redis {
    my (%o) = @_;
    my $self = bless { addr => '127.0.0.1', port => $o{port} // free_port(),
                       aof => $o{aof} },
        'Replicas::Test::Redis';
    $self->{dir} = tmpdir() . "/redis-$self->{port}";
    make_path($self->{dir});
    $self->_start;
    unshift @cleanup, $self;
    return $self;
}

package Replicas::Test::Redis;

use Time::HiRes qw(time sleep);

sub _start {
    my ($self) = @_;
    $self->{pid} = Replicas::Test::_spawn(
        'redis-server', '--port', $self->{port}, '--bind', '127.0.0.1',
        '--save', '', '--dir', $self->{dir},
        ($self->{aof} ? ('--appendonly', 'yes', '--appendfsync', 'always')
                      : ('--appendonly', 'no')),
        '--logfile', "$self->{dir}/redis.log", '--daemonize', 'no');
    my $deadline = time + 10;
    while (time < $deadline) {
        my $pong = eval { $self->cmd('PING') };
        return if defined $pong && $pong eq 'PONG';
        delete $self->{sock};
        sleep 0.02;
    }
    die "redis-server on port $self->{port} did not start";
}

sub _sock {
    my ($self) = @_;
    return $self->{sock} if $self->{sock};
    $self->{sock} = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $self->{port}, Proto => 'tcp', Timeout => 2)
        or die "redis connect: $!";
    $self->{buf} = '';
    return $self->{sock};
}

sub _read_line {
    my ($self) = @_;
    my $deadline = time + 5;
    while ($self->{buf} !~ /\r\n/) {
        my $left = $deadline - time;
        die "redis: read timed out\n" if $left <= 0;
        IO::Select->new($self->{sock})->can_read($left) or next;
        my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
        die "redis: connection closed\n" unless $n;
    }
    $self->{buf} =~ s/^(.*?)\r\n//s;
    return $1;
}

sub _read_bytes {
    my ($self, $len) = @_;
    my $deadline = time + 5;
    while (length $self->{buf} < $len + 2) {
        my $left = $deadline - time;
        die "redis: read timed out\n" if $left <= 0;
        IO::Select->new($self->{sock})->can_read($left) or next;
        my $n = sysread($self->{sock}, $self->{buf}, 65536, length $self->{buf});
        die "redis: connection closed\n" unless $n;
    }
    my $s = substr($self->{buf}, 0, $len);
    substr($self->{buf}, 0, $len + 2, '');
    return $s;
}

sub _reply {
    my ($self) = @_;
    my $line = $self->_read_line;
    my ($t, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $t eq '+';
    return $rest + 0 if $t eq ':';
    die "redis error: $rest\n" if $t eq '-';
    if ($t eq '$') {
        return undef if $rest < 0;
        return $self->_read_bytes($rest);
    }
    if ($t eq '*') {
        return undef if $rest < 0;
        return [ map { $self->_reply } 1 .. $rest ];
    }
    die "redis: bad reply line '$line'\n";
}

# cmd('HSET', 'key', 'field', 'value') -> the decoded reply
sub cmd {
    my ($self, @args) = @_;
    my $req = '*' . @args . "\r\n";
    $req .= '$' . length($_) . "\r\n$_\r\n" for @args;
    my $reply = eval {
        my $s = $self->_sock;
        print {$s} $req or die "redis: write failed\n";
        $self->_reply;
    };
    if ($@) {
        my $err = $@;
        delete $self->{sock} unless $err =~ /^redis error/;
        die $err;
    }
    return $reply;
}

sub stop {
    my ($self) = @_;
    delete $self->{sock};
    Replicas::Test::_stop_pid(delete $self->{pid}, 'TERM');
}

sub kill9 {
    my ($self) = @_;
    delete $self->{sock};
    Replicas::Test::_stop_pid(delete $self->{pid}, 'KILL');
}

sub pause  { kill 'STOP', $_[0]{pid} }
sub resume { kill 'CONT', $_[0]{pid} }

# after kill9 too: up again on the same port and dir (its AOF, if any)
sub restart {
    my ($self) = @_;
    $self->stop if $self->{pid};
    delete $self->{sock};
    $self->_start;
}

package Replicas::Test;

# --- nginx ------------------------------------------------------------------

my $nginx_n = 0;

sub start_nginx {
    my (%o) = @_;
    my $port = $o{port} or die 'start_nginx needs port';
    my $module = exists $o{module} ? $o{module}
        : $ENV{REPLICAS_MODULE} // objs_dir() . '/ngx_http_replicas_module.so';
    die "module $module is missing: build it first (./auto/test does)\n"
        if $module ne '' && !-f $module;

    my $dir = tmpdir() . '/nginx-' . ++$nginx_n;
    make_path("$dir/conf", "$dir/logs", "$dir/tmp");
    my $workers = $o{workers} // 2;
    my $user = $> == 0 ? 'user root;' : '';
    my $load = $module ne '' ? "load_module $module;" : '';
    my $main = $o{main} // '';
    my $http = $o{http} // '';
    my $http_head = $o{http_head} // '';
    my $log_format = $o{log_format} // '';

    open my $fh, '>', "$dir/conf/nginx.conf" or die $!;
    print {$fh} <<"CONF";
$load
$user
worker_processes $workers;
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
$main
events { worker_connections 1024; }
http {
$http_head
    access_log $dir/logs/access.log $log_format;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
$http
}
CONF
    close $fh;

    my $self = bless { dir => $dir, port => $port }, 'Replicas::Test::Nginx';
    my @args = ('-p', "$dir/", '-c', "$dir/conf/nginx.conf",
                '-e', "$dir/logs/error.log");
    my $nginx = $ENV{REPLICAS_NGINX} // '/usr/sbin/nginx';

    # An AddressSanitizer run: only nginx gets the runtime, each instance
    # writes its reports beside its logs.
    local $ENV{LD_PRELOAD} = $ENV{REPLICAS_ASAN} if $ENV{REPLICAS_ASAN};
    local $ENV{ASAN_OPTIONS} = "detect_leaks=0:abort_on_error=0:log_path=$dir/logs/asan"
        if $ENV{REPLICAS_ASAN};

    my $out = qx{$nginx -t @args 2>&1};
    die "nginx -t failed:\n$out" if $?;

    $self->{pid} = _spawn($nginx, @args, '-g', 'daemon off;');
    unshift @cleanup, $self;
    push @nginx_started, $self;
    wait_port('127.0.0.1', $port, 10) or die "nginx did not listen on $port:\n"
        . $self->error_log;
    # workers are forked right after listening; wait until they run
    poll_until(5, sub { scalar $self->worker_pids >= $workers });
    return $self;
}

# (done_testing runs it for every nginx started: see above)
sub nginx_log_clean_ok {
    my ($nginx) = @_;
    my @problems = $nginx->check_log;
    Test::More::ok(!@problems, 'nginx error log clean: ' . $nginx->dir)
        or Test::More::diag(join "\n", @problems[0 .. ($#problems > 20 ? 20 : $#problems)]);
}

package Replicas::Test::Nginx;

use Time::HiRes qw(time sleep);

sub dir { $_[0]{dir} }

sub error_log {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/logs/error.log" or return '';
    local $/;
    return <$fh>;
}

sub worker_pids {
    my ($self) = @_;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        # pid (comm) state ppid ...
        next unless $line =~ /^(\d+) \(.*\) \S+ (\d+)/;
        push @pids, $1 if $2 == ($self->{pid} // -1);
    }
    return @pids;
}

sub reload {
    my ($self) = @_;
    my $before = () = $self->error_log =~ /start worker process/g;
    my %old = map { $_ => 1 } $self->worker_pids;
    kill 'HUP', $self->{pid};
    Replicas::Test::poll_until(10, sub {
        my $now = () = $self->error_log =~ /start worker process/g;
        my @new = grep { !$old{$_} } $self->worker_pids;
        $now > $before && @new;
    });
    # old workers finish gracefully; give them a bounded moment
    Replicas::Test::poll_until(5, sub { !grep { $old{$_} } $self->worker_pids });
}

sub check_log {
    my ($self) = @_;
    my @problems = grep {
        /\[(alert|emerg|crit)\]/ || /exited on signal/ || /AddressSanitizer/
            || /LeakSanitizer/ || /runtime error:/
    } split /\n/, $self->error_log;
    for my $f (glob "$self->{dir}/logs/asan*") {
        open my $fh, '<', $f or next;
        local $/;
        push @problems, "$f:\n" . <$fh>;
    }
    return @problems;
}

sub stop {
    my ($self) = @_;
    Replicas::Test::_stop_pid(delete $self->{pid}, 'QUIT', 10);
}

package Replicas::Test;

# --- upstream test servers ----------------------------------------------------

sub start_upstream {
    my (%o) = @_;
    my $addr = $o{addr} // '127.0.0.1';
    my $port = $o{port} // free_port();
    my $name = $o{name} // "$addr:$port";
    my $listen = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port,
        Proto => 'tcp', Listen => 128, ReuseAddr => 1)
        or die "upstream $addr:$port: $!";

    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';     # connection children reap themselves
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (1) {
            my $c = $listen->accept or next;
            my $child = fork;
            if (defined $child && $child == 0) {
                close $listen;
                eval { _serve_connection($c, $name) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $listen;
    my $self = bless { addr => $addr, port => $port, name => $name, pid => $pid },
        'Replicas::Test::Upstream';
    unshift @cleanup, $self;
    return $self;
}

sub _read_until {
    my ($sock, $bufref, $want, $timeout) = @_;
    my $deadline = time + ($timeout // 30);
    while (!$want->()) {
        my $left = $deadline - time;
        return 0 if $left <= 0;
        IO::Select->new($sock)->can_read($left) or return 0;
        my $n = sysread($sock, $$bufref, 65536, length $$bufref);
        return 0 unless $n;
    }
    return 1;
}

sub _serve_connection {
    my ($c, $name) = @_;
    my $buf = '';
    while (1) {
        _read_until($c, \$buf, sub { $buf =~ /\r\n\r\n/ }) or return;
        $buf =~ s/^(.*?)\r\n\r\n//s;
        my ($line, @lines) = split /\r\n/, $1;
        my ($method, $uri, $proto) = split / /, $line;
        my %h;
        for (@lines) {
            my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
            $h{lc $k} = $v;
        }
        if (lc($h{upgrade} // '') eq 'websocket') {
            $h{':uri'} = $uri;
            $h{':conn'} = $$;
            return _serve_websocket($c, \%h, $name, $buf);
        }
        my $body = '';
        if (my $len = $h{'content-length'}) {
            _read_until($c, \$buf, sub { length $buf >= $len }) or return;
            $body = substr($buf, 0, $len, '');
        }
        # conn: which TCP connection carried it (each has its own child)
        my $json = JSON::PP->new->canonical->encode({
            name => $name, method => $method, uri => $uri,
            headers => \%h, body => $body, conn => $$ });
        my $close = ($proto // '') ne 'HTTP/1.1'
            || lc($h{connection} // '') eq 'close';
        # /status/NNN answers with that status, for pass-through checks
        my $status = $uri =~ m{^/status/(\d{3})\b} ? $1 : 200;
        # /set-cookie?c=<encoded>&c=...: one Set-Cookie per c, as an app
        # that tries to set cookies (the platform's own, say) would
        my $cookies = '';
        if ($uri =~ m{^/set-cookie\?(.*)$}) {
            for (split /&/, $1) {
                my ($k, $v) = split /=/, $_, 2;
                next unless $k eq 'c' && defined $v;
                $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
                $cookies .= "Set-Cookie: $v\r\n";
            }
        }
        print {$c} "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n$cookies"
            . 'Content-Length: ' . length($json) . "\r\n"
            . ($close ? "Connection: close\r\n" : '') . "\r\n"
            . ($method eq 'HEAD' ? '' : $json);
        return if $close;
    }
}

sub _ws_frame {
    my ($op, $payload, $mask) = @_;
    my $len = length $payload;
    my $f = chr(0x80 | $op);
    my $m = $mask ? 0x80 : 0;
    if ($len < 126) { $f .= chr($m | $len) }
    elsif ($len < 65536) { $f .= chr($m | 126) . pack('n', $len) }
    else { $f .= chr($m | 127) . pack('Q>', $len) }
    if ($mask) {
        my $key = pack('N', int rand 2**32);
        my $masked = $payload ^ substr($key x (int($len / 4) + 1), 0, $len);
        $f .= $key . $masked;
    } else {
        $f .= $payload;
    }
    return $f;
}

# Parses one frame from $$bufref if complete: (op, payload) or ().
sub _ws_parse {
    my ($bufref) = @_;
    my $b = $$bufref;
    return () if length $b < 2;
    my ($b0, $b1) = unpack('CC', $b);
    my $len = $b1 & 0x7f;
    my $off = 2;
    if ($len == 126) { return () if length $b < 4; $len = unpack('n', substr($b, 2, 2)); $off = 4 }
    elsif ($len == 127) { return () if length $b < 10; $len = unpack('Q>', substr($b, 2, 8)); $off = 10 }
    my $key = '';
    if ($b1 & 0x80) { return () if length $b < $off + 4; $key = substr($b, $off, 4); $off += 4 }
    return () if length $b < $off + $len;
    my $payload = substr($b, $off, $len);
    $payload ^= substr($key x (int($len / 4) + 1), 0, $len) if length $key;
    substr($$bufref, 0, $off + $len, '');
    return ($b0 & 0x0f, $payload);
}

sub _serve_websocket {
    my ($c, $h, $name, $buf) = @_;
    my $accept = encode_base64(sha1(($h->{'sec-websocket-key'} // '')
        . '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'), '');
    print {$c} "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        . "Connection: Upgrade\r\nSec-WebSocket-Accept: $accept\r\n\r\n";
    while (1) {
        my @f;
        _read_until($c, \$buf, sub { @f = _ws_parse(\$buf); @f }, 60) or return;
        my ($op, $payload) = @f;
        if ($op == 8) { print {$c} _ws_frame(8, ''); return }
        if ($op == 9) { print {$c} _ws_frame(10, $payload); next }
        # "request?" answers with what the upstream saw of the handshake
        if ($op == 1 && $payload eq 'request?') {
            print {$c} _ws_frame(1, JSON::PP->new->canonical->encode($h));
            next;
        }
        print {$c} _ws_frame($op, "$name:$payload") if $op == 1 || $op == 2;
    }
}

package Replicas::Test::Upstream;

sub addr { $_[0]{addr} }
sub port { $_[0]{port} }
sub name { $_[0]{name} }
sub stop { Replicas::Test::_stop_pid(delete $_[0]{pid}, 'TERM') }

package Replicas::Test;

# --- clients ------------------------------------------------------------------

# A raw HTTP/1.1 client: the Host header goes out byte for byte.
sub http_request {
    my (%o) = @_;
    my $res = { status => 0, headers => {}, body => '', raw => '' };
    my $sock = IO::Socket::INET->new(PeerAddr => $o{addr} // '127.0.0.1',
        PeerPort => $o{port}, Proto => 'tcp', Timeout => 5);
    unless ($sock) { $res->{error} = "connect: $!"; return $res }

    my $req = $o{raw};
    unless (defined $req) {
        my $method = $o{method} // 'GET';
        $req = "$method " . ($o{path} // '/') . " HTTP/1.1\r\n";
        $req .= "Host: $o{host}\r\n" if defined $o{host};
        $req .= "$_->[0]: $_->[1]\r\n" for @{ $o{headers} // [] };
        $req .= 'Content-Length: ' . length($o{body}) . "\r\n" if defined $o{body};
        $req .= "Connection: close\r\n\r\n";
        $req .= $o{body} // '';
    }
    local $SIG{PIPE} = 'IGNORE';
    syswrite($sock, $req);

    my $buf = '';
    my $deadline = time + ($o{timeout} // 10);
    while (1) {
        my $left = $deadline - time;
        if ($left <= 0) { $res->{error} = 'timeout'; last }
        IO::Select->new($sock)->can_read($left) or next;
        my $n = sysread($sock, $buf, 65536, length $buf);
        last unless $n;
    }
    close $sock;
    $res->{raw} = $buf;

    return $res unless $buf =~ s/^HTTP\/1\.[01] (\d{3}) ?([^\r\n]*)\r\n(.*?)\r\n\r\n//s;
    @$res{qw(status reason)} = ($1, $2);
    for (split /\r\n/, $3) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $res->{headers}{lc $k} = $v;
        push @{ $res->{all}{lc $k} }, $v;     # Set-Cookie comes more than once
    }
    if (lc($res->{headers}{'transfer-encoding'} // '') eq 'chunked') {
        my $body = '';
        while ($buf =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $body .= substr($buf, 0, $len, '');
            $buf =~ s/^\r\n//;
        }
        $buf = $body;
    }
    $res->{body} = $buf;
    $res->{status} = 0 if $res->{error} && !length $buf && !$res->{status};
    return $res;
}

sub http_json {
    my ($res) = @_;
    return eval { JSON::PP->new->decode($res->{body}) };
}

sub ws_connect {
    my (%o) = @_;
    my $self = bless { status => 0, response_headers => {}, buf => '' },
        'Replicas::Test::WS';
    my $sock = IO::Socket::INET->new(PeerAddr => $o{addr} // '127.0.0.1',
        PeerPort => $o{port}, Proto => 'tcp', Timeout => 5)
        or return $self;
    my $key = encode_base64(pack('N4', map { int rand 2**32 } 1 .. 4), '');
    my $req = 'GET ' . ($o{path} // '/') . " HTTP/1.1\r\nHost: $o{host}\r\n"
        . "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        . "Sec-WebSocket-Key: $key\r\nSec-WebSocket-Version: 13\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for @{ $o{headers} // [] };
    syswrite($sock, "$req\r\n");

    my $buf = '';
    _read_until($sock, \$buf, sub { $buf =~ /\r\n\r\n/ }, 10) or return $self;
    $buf =~ s/^HTTP\/1\.1 (\d{3})[^\r\n]*\r\n(.*?)\r\n\r\n//s;
    $self->{status} = $1 // 0;
    for (split /\r\n/, $2 // '') {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $self->{response_headers}{lc $k} = $v;
    }
    if ($self->{status} != 101) {
        my $len = $self->{response_headers}{'content-length'} // 0;
        _read_until($sock, \$buf, sub { length $buf >= $len }, 5);
        $self->{body} = $buf;
        close $sock;
        return $self;
    }
    $self->{sock} = $sock;
    $self->{buf} = $buf;
    return $self;
}

package Replicas::Test::WS;

sub status { $_[0]{status} }
sub response_headers { $_[0]{response_headers} }

sub send_text {
    my ($self, $s) = @_;
    local $SIG{PIPE} = 'IGNORE';
    syswrite($self->{sock}, Replicas::Test::_ws_frame(1, $s, 1));
}

sub recv_text {
    my ($self, $timeout) = @_;
    return undef unless $self->{sock};
    my @f;
    Replicas::Test::_read_until($self->{sock}, \$self->{buf},
        sub { @f = Replicas::Test::_ws_parse(\$self->{buf}); @f }, $timeout // 5)
        or return undef;
    return $f[0] == 8 ? undef : $f[1];
}

sub close {
    my ($self) = @_;
    return unless $self->{sock};
    syswrite($self->{sock}, Replicas::Test::_ws_frame(8, '', 1));
    close $self->{sock};
    delete $self->{sock};
}

1;
