package Replicas::Identity;

# Organisations, users and keys made the way an operator makes them, with
# replicas-control, and a small client for the gateway's API.

use strict;
use warnings;

use Exporter 'import';
use JSON::PP;
use Replicas::Test qw(repo_root http_request http_json);

our @EXPORT_OK = qw(control new_identity api login_link);

# control($redis, 'org create x') -> ($exit, $output)
sub control {
    my ($redis, @args) = @_;
    my $bin = Replicas::Test::control_bin();
    my $out = qx{$bin --redis 127.0.0.1:$redis->{port} @args 2>&1};
    return ($? >> 8, $out);
}

sub _one {
    my ($redis, @args) = @_;
    my ($rc, $out) = control($redis, @args);
    die "replicas-control @args: $out" if $rc != 0;
    chomp $out;
    return $out;
}

# A fresh organisation with one admin and an API key (and more keys on
# request): { org, user, key }.
sub new_identity {
    my ($redis, %o) = @_;
    my $org = $o{org} // _one($redis, 'org', 'create', 'test-org');
    my $user = _one($redis, 'user', 'create', '--org', $org,
                    '--email', ($o{email} // 'admin@example.com'), '--admin');
    my $key = _one($redis, 'key', 'create', '--user', $user);
    return { org => $org, user => $user, key => $key };
}

sub login_link {
    my ($redis, $user, $url) = @_;
    return _one($redis, 'login-link', '--user', $user, '--url', $url);
}

# api($gw, $key, 'POST', '/v1/workspaces', {..} | 'raw', headers => [...])
# -> ($status, $json, $res)
sub api {
    my ($gw, $key, $method, $path, $body, %o) = @_;
    my @h = @{ $o{headers} // [] };
    push @h, ['Authorization', "Bearer $key"] if defined $key;
    push @h, ['Content-Type', 'application/json'] if defined $body;
    $body = JSON::PP->new->canonical->encode($body) if ref $body;
    my $res = http_request(port => $gw->{port}, host => "$gw->{domain}:$gw->{port}",
                           method => $method, path => $path,
                           headers => \@h, body => $body);
    return ($res->{status}, http_json($res), $res);
}

1;
