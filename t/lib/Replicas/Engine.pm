package Replicas::Engine;

# The built replicas-engine run directly on loopback (no sandbox), with a
# small client for its API and its events:
#   my $e = Replicas::Engine->new(dir => $dir, work => $work);   # started
#   my ($status, $json) = $e->api('POST', '/messages', {...});
#   my $ev = $e->wait_event('chat.turn.completed', seq => 3);
#   $e->restart; $e->stop;
# Its log is $dir/engine.log; its state dir $dir/state unless given.

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use POSIX qw(WNOHANG);
use Replicas::Test qw(objs_dir engine_bin free_port wait_port http_request http_json poll_until);

my @engines;
END { my $s = $?; $_->stop for @engines; $? = $s }

sub new {
    my ($class, %o) = @_;
    my $self = bless { state => "$o{dir}/state", agents => objs_dir() . '/agents',
                       workspace => 'enginews', %o }, $class;
    push @engines, $self;
    $self->start;
    return $self;
}

sub start {
    my ($self) = @_;
    my $bin = engine_bin();
    $self->{port} = free_port();
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$self->{dir}/engine.log";
        open STDERR, '>&', \*STDOUT;
        $ENV{HOME} = "$self->{dir}/home";
        $ENV{REPLICAS_WORKSPACE} = $self->{workspace};
        # only what the test gives through /start reaches the agents
        delete @ENV{qw(ANTHROPIC_API_KEY ANTHROPIC_AUTH_TOKEN ANTHROPIC_BASE_URL
                       OPENAI_API_KEY OPENAI_BASE_URL CODEX_API_KEY CODEX_HOME
                       REPLICAS_GIT_TOKEN GITHUB_TOKEN)};
        exec $bin, 'serve', '--listen', "127.0.0.1:$self->{port}", '--state-dir',
             $self->{state}, '--workdir', $self->{work}, '--agents-dir', $self->{agents}
            or POSIX::_exit(127);
    }
    $self->{pid} = $pid;
    wait_port('127.0.0.1', $self->{port}, 10) or die 'the engine did not listen';
}

sub stop {
    my ($self) = @_;
    my $pid = delete $self->{pid} or return;
    kill 'TERM', $pid;
    poll_until(20, sub { waitpid($pid, WNOHANG) == $pid }) or do {
        kill 'KILL', $pid; waitpid $pid, 0 };
}

sub restart { $_[0]->stop; $_[0]->start }
sub port { $_[0]{port} }
sub log_text { local (@ARGV, $/) = ("$_[0]{dir}/engine.log"); return <> // '' }

# the raw response (status, headers, body)
sub request {
    my ($self, $method, $path, $body) = @_;
    return http_request(port => $self->{port}, host => "127.0.0.1:$self->{port}",
                        method => $method, path => $path, timeout => 30,
                        # JSON on every POST and PUT, as the engine wants
                        ($method =~ /^(POST|PUT)$/ || defined $body
                         ? (headers => [[ 'Content-Type', 'application/json' ]]) : ()),
                        (defined $body ? (body => encode_json($body)) : ()));
}

# (status, decoded JSON or undef)
sub api {
    my $r = shift->request(@_);
    return ($r->{status}, scalar http_json($r));
}

sub events {
    my (undef, $j) = $_[0]->api('GET', '/events?format=json&after=0');
    return $j ? $j->{events} : [];
}

# events of a type whose payload has the given values
sub of_type {
    my ($self, $t, %w) = @_;
    return [ grep { my $e = $_; $e->{type} eq $t
                    && !grep { ($e->{payload}{$_} // '') ne $w{$_} } keys %w }
             @{ $self->events } ];
}

sub wait_event {
    my ($self, $t, %w) = @_;
    my $got;
    poll_until(60, sub { $got = $self->of_type($t, %w)->[0] });
    return $got;
}

# until no chat works (a turn's git work is done too)
sub wait_idle {
    my ($self) = @_;
    return poll_until(60, sub { my (undef, $j) = $self->api('GET', '/healthz');
                                $j && !$j->{busy} });
}

1;
