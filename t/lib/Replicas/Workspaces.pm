package Replicas::Workspaces;

# A test's view of workspaces through the gateway, as an API client and a
# program opening previews would have it: states, previews, pages, the
# engine's events.  Every wait is bounded.

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use Replicas::Test qw(http_request http_json poll_until);
use Replicas::Identity qw(api);

our @EXPORT_OK = qw(serve_hook);

# a start hook serving the checkout on 3000, in the background
sub serve_hook {
    return encode_json({ startHook => { commands => [
        'python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &'] } });
}

# Replicas::Workspaces->new($gw, $key)
sub new {
    my ($class, $gw, $key) = @_;
    return bless { gw => $gw, key => $key }, $class;
}

# the state the API reports ('' when it has none to report)
sub state_of {
    my ($self, $id) = @_;
    my (undef, $j) = api($self->{gw}, $self->{key}, 'GET', "/v1/workspaces/$id");
    return $j ? $j->{state} // '' : '';
}

# until the state is $want, or failed, or the time is up: the last state
sub wait_state {
    my ($self, $id, $want, $timeout) = @_;
    my $got = '';
    poll_until($timeout // 60, sub { ($got = $self->state_of($id)) eq $want
                                     || $got eq 'failed' });
    return $got;
}

# one request to a preview port, with the key as a program sends it
sub preview {
    my ($self, $id, $port, %o) = @_;
    return http_request(port => $self->{gw}{port}, host => "$port-$id.$self->{gw}{domain}",
                        path => $o{path} // '/', timeout => $o{timeout} // 30,
                        headers => [['Authorization', "Bearer $self->{key}"]]);
}

# the page on 3000 once the workspace's dev server is up
sub page {
    my ($self, $id) = @_;
    my $res;
    poll_until(30, sub { $res = $self->preview($id, 3000); $res->{status} == 200 });
    return $res;
}

# the workspace's events so far (GET /v1/workspaces/{id}/events?format=json)
sub events {
    my ($self, $id) = @_;
    my $res = http_request(port => $self->{gw}{port},
                           host => "$self->{gw}{domain}:$self->{gw}{port}",
                           path => "/v1/workspaces/$id/events?format=json&after=0",
                           headers => [['Authorization', "Bearer $self->{key}"]]);
    my $e = http_json($res);
    return $e && ref $e->{events} eq 'ARRAY' ? $e->{events} : [];
}

# the event of a type for the message seq, now ({} if none yet)
sub event {
    my ($self, $id, $type, $seq) = @_;
    my ($e) = grep { $_->{type} eq $type && ($_->{payload}{seq} // -1) == $seq }
              @{ $self->events($id) };
    return $e // {};
}

# the same, waited for (up to 90 s: an agent's turn); undef if it never came
sub wait_event {
    my ($self, $id, $type, $seq) = @_;
    my $got;
    poll_until(90, sub { $got = $self->event($id, $type, $seq); %$got });
    return $got && %$got ? $got : undef;
}

1;
