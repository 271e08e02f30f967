package Replicas::EventStream;

# A server-sent events client for tests: GET a stream on one connection
# (HTTP/1.0, so the body is the events as sent, not chunked), then read
# its events one at a time with a deadline.  An event's "data" is decoded
# as JSON; comments (": ping") are counted, not returned.

use strict;
use warnings;

use IO::Socket::INET;
use IO::Select;
use JSON::PP;
use Time::HiRes qw(time);

# open(port => P, host => H, path => '/v1/events', headers => [[k, v]..])
# -> the stream, with {status}, {headers} and {body} (a refusal's)
sub open {
    my ($class, %o) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $o{port},
                                     Proto => 'tcp', Timeout => 5)
        or die "connect $o{port}: $!";
    my $req = "GET $o{path} HTTP/1.0\r\nHost: $o{host}\r\nAccept: text/event-stream\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for @{ $o{headers} // [] };
    print $sock "$req\r\n";
    my $self = bless { sock => $sock, buf => '', pings => 0, closed => 0 }, $class;
    my $deadline = time + ($o{timeout} // 10);
    while ($self->{buf} !~ /\r\n\r\n/) {
        $self->_fill($deadline) or die "no answer to GET $o{path}\n";
    }
    my ($head, $rest) = split /\r\n\r\n/, $self->{buf}, 2;
    $self->{buf} = $rest;
    my ($status_line, @lines) = split /\r\n/, $head;
    ($self->{status}) = $status_line =~ m{^HTTP/\S+ (\d+)};
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $self->{headers}{lc $k} = $v;
    }
    if ($self->{status} != 200) {
        $self->_fill(time + 2) while !$self->{closed};
        $self->{body} = $self->{buf};
    }
    return $self;
}

sub status  { $_[0]{status} }
sub headers { $_[0]{headers} }
sub closed  { $_[0]{closed} }
sub pings   { $_[0]{pings} }

# more bytes before the deadline: 1, or 0 (time's up or the server closed)
sub _fill {
    my ($self, $deadline) = @_;
    return 0 if $self->{closed};
    my $left = $deadline - time;
    return 0 if $left <= 0;
    my $sel = IO::Select->new($self->{sock});
    return 0 unless $sel->can_read($left);
    my $n = sysread($self->{sock}, my $chunk, 65536);
    if (!$n) { $self->{closed} = 1; return 0 }
    $self->{buf} .= $chunk;
    return 1;
}

# the next event within $timeout seconds: {id, data (decoded), raw}, or
# undef (none came, or the stream ended: see closed)
sub next_event {
    my ($self, $timeout, $raw_only) = @_;
    my $deadline = time + ($timeout // 10);
    while (1) {
        while ($self->{buf} =~ s/^(.*?)\n\n//s) {
            my $block = $1;
            my (%ev, @data);
            for my $line (split /\n/, $block) {
                if ($line =~ /^:/) { $self->{pings}++; next }
                my ($k, $v) = $line =~ /^([a-z]+): ?(.*)$/ or next;
                if ($k eq 'data') { push @data, $v } else { $ev{$k} = $v }
            }
            next unless @data;
            $ev{raw} = join("\n", @data);
            # (raw_only: a benchmark's, where JSON::PP's decoding would be
            # what is measured)
            $ev{data} = eval { JSON::PP->new->decode($ev{raw}) } unless $raw_only;
            return \%ev;
        }
        $self->_fill($deadline) or return undef;
    }
}

# events until one passes $match (a sub on the decoded data), within
# $timeout seconds: (that event, [the ones before it])
sub wait_for {
    my ($self, $match, $timeout) = @_;
    my $deadline = time + ($timeout // 10);
    my @seen;
    while ((my $left = $deadline - time) > 0) {
        my $ev = $self->next_event($left) or last;
        return ($ev, \@seen) if $ev->{data} && $match->($ev->{data});
        push @seen, $ev;
    }
    return (undef, \@seen);
}

sub close { close $_[0]{sock} if $_[0]{sock}; $_[0]{closed} = 1 }

1;
