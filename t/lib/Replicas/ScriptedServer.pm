package Replicas::ScriptedServer;

# What the tests' stand-ins for a model API share (ModelServer for
# Anthropic's Messages API, ResponsesServer for OpenAI's Responses API):
# a loopback (or given address) HTTP/1.1 server in a child process, a
# child per connection, every request kept in a JSON-lines log for the
# test's assertions.  Each stand-in gives the answer for one request.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(time);
use Replicas::Test qw(free_port tmpdir);

my @servers;
END { $_->stop for @servers }

# $class->start(addr => ..., port => ..., name => 'model', url_path => '',
#               answer => sub { my ($c, $method, $path, $headers, $req) = @_ },
#               refuse => sub { my ($headers) = @_; () or (status, body) })
# refuse is asked first (the stand-ins' API-key checks): what it returns
# is sent instead of the answer, and the request is kept all the same
sub start {
    my ($class, %o) = @_;
    my $port = $o{port} // free_port();
    my $addr = $o{addr} // '127.0.0.1';
    my $log = tmpdir() . "/$o{name}-$port.jsonl";
    my $listen = IO::Socket::INET->new(LocalAddr => $addr, LocalPort => $port,
        Proto => 'tcp', Listen => 64, ReuseAddr => 1)
        or die "$o{name} server: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (1) {
            my $c = $listen->accept or next;
            my $kid = fork;
            if (defined $kid && $kid == 0) {
                close $listen;
                srand($$ ^ int(time * 1000));   # ids differ per answer
                eval { _serve($c, $log, $o{answer}, $o{refuse}) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }
    close $listen;
    my $self = bless { port => $port, pid => $pid, log => $log,
                       url => "http://$addr:$port" . ($o{url_path} // '') }, $class;
    push @servers, $self;
    return $self;
}

sub url { $_[0]{url} }

# POST {} to a path of the server with these headers: (status, decoded body)
sub ask {
    my ($self, $path, @headers) = @_;
    my $res = Replicas::Test::http_request(port => $self->{port}, method => 'POST',
        host => "127.0.0.1:$self->{port}", path => $path, body => '{}',
        headers => [['Content-Type', 'application/json'], @headers]);
    return ($res->{status}, scalar eval { decode_json($res->{body}) });
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
    delete $self->{pid};
}

# every request answered: [{path, method, headers, body (decoded), at (unix,
# when it came)}, ...]
sub requests {
    my ($self) = @_;
    open my $fh, '<', $self->{log} or return [];
    my @r;
    while (my $line = <$fh>) {
        my $r = eval { decode_json($line) } or next;
        push @r, $r;
    }
    return \@r;
}

sub _serve {
    my ($c, $log, $answer, $refuse) = @_;
    my ($method, $path, $h, $body) = read_request($c) or return;
    my $req = eval { decode_json($body) } // {};
    if (open my $fh, '>>', $log) {
        my %keep = map { $_ => $h->{$_} }
                   grep { /^(authorization|x-api-key|content-type|accept|user-agent|x-github-api-version)$/ }
                   keys %$h;
        print $fh encode_json({ path => $path, method => $method, headers => \%keep,
                                body => $req, at => time }), "\n";
        close $fh;
    }
    if ($refuse and my @no = $refuse->($h)) {
        return send_json($c, @no);
    }
    $answer->($c, $method, $path, $h, $req);
}

sub read_request {
    my ($c) = @_;
    my $buf = '';
    my $sel = IO::Select->new($c);
    while ($buf !~ /\r\n\r\n/) {
        $sel->can_read(10) or return;
        sysread($c, $buf, 65536, length $buf) or return;
    }
    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    my ($method, $path) = $head =~ /^(\S+) (\S+)/;
    my %h;
    for (split /\r\n/, $head) { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
    if (lc($h{'transfer-encoding'} // '') eq 'chunked') {
        my $raw = $body;
        while ($raw !~ /\r\n0\r\n\r\n$/ && $raw !~ /^0\r\n\r\n$/) {
            $sel->can_read(10) or last;
            sysread($c, $raw, 65536, length $raw) or last;
        }
        $body = '';
        while ($raw =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $body .= substr($raw, 0, $n, '');
            $raw =~ s/^\r\n//;
        }
    } else {
        my $len = $h{'content-length'} // 0;
        while (length $body < $len) {
            $sel->can_read(10) or last;
            sysread($c, $body, 65536, length $body) or last;
        }
    }
    return ($method, $path, \%h, $body);
}

# send_json($c, $status, $obj, [$name => $value, ...]): headers optional
sub send_json {
    my ($c, $status, $obj, $headers) = @_;
    my $body = encode_json($obj);
    my $extra = '';
    my @h = @{ $headers // [] };
    while (my ($k, $v) = splice @h, 0, 2) { $extra .= "$k: $v\r\n" }
    print {$c} "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n$extra"
        . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n$body";
}

1;
