package Replicas::GitHubServer;

# A stand-in for GitHub's REST API, as much of it as the engine uses for
# pull requests, speaking its wire protocol: JSON in and out, Bearer
# tokens (401 "Bad credentials" otherwise), 404 for a repository it does
# not know, 422 "Validation Failed" for a missing field, a head branch
# the repository does not have, or a second open pull request of the
# same head and base ("A pull request already exists for OWNER:BRANCH."),
# 201 with the pull request made, GET .../pulls?head=OWNER:BRANCH&state=open,
# GET .../pulls/NUMBER (one, with merged, merged_at, closed_at; 404 for
# another's).  Every answer has GitHub's X-RateLimit-* headers; a rate
# limit is answered as GitHub does (403 "API rate limit exceeded" with
# X-RateLimit-Remaining: 0 and X-RateLimit-Reset, or 429 with
# Retry-After: a secondary limit).
#   my $gh = Replicas::GitHubServer->start(token => 't', repos => { 'acme/app' => $bare });
#   $gh->url; $gh->requests; $gh->pulls; $gh->fail_next(500, 'Server Error');
#   $gh->add_pull('acme/app', 'replicas/x') (a pull request without git: its
#   number); $gh->merge_pull($n); $gh->close_pull($n);
#   $gh->limit_next(403, reset => time + 5); $gh->limit_next(429, retry_after => 3)
# Pull requests are kept in a JSON file (a child answers each connection).

use strict;
use warnings;

use Fcntl qw(:flock);
use JSON::PP;
use Replicas::Test qw(tmpdir);
use Replicas::ScriptedServer;

sub start {
    my ($class, %o) = @_;
    my $state = tmpdir() . "/github-$$-" . int(rand 1e9) . '.json';
    my $self = bless { state => $state, token => $o{token}, repos => $o{repos} // {} }, $class;
    $self->_write({ pulls => [], next => 1 });
    $self->{srv} = Replicas::ScriptedServer->start(name => 'github',
        answer => sub { $self->_answer(@_) });
    return $self;
}

sub url      { $_[0]{srv}->url }
sub requests { $_[0]{srv}->requests }
sub stop     { $_[0]{srv}->stop }
sub pulls    { $_[0]->_locked(sub { $_[0]{pulls} }) }

# the next request answered with this error, once
sub fail_next {
    my ($self, $status, $message) = @_;
    $self->_locked(sub { $_[0]{fail} = [$status, $message]; $_[0] });
}

# the next request answered with a rate limit, once
sub limit_next {
    my ($self, $status, %o) = @_;
    $self->_locked(sub { $_[0]{limit} = { status => $status, %o }; $_[0] });
}

# a pull request of repository full ("owner/repo") from head, open: its number
sub add_pull {
    my ($self, $full, $head, $base) = @_;
    return $self->_locked(sub {
        my $s = shift;
        my $n = $s->{next}++;
        push @{ $s->{pulls} }, _pull($n, $full, "127.0.0.1", $head, $base // 'main', "Pull $n");
        return $n;
    });
}

sub _iso { my @t = gmtime shift; sprintf '%04d-%02d-%02dT%02d:%02d:%02dZ', $t[5] + 1900, $t[4] + 1, @t[3, 2, 1, 0] }

sub _set_pull {
    my ($self, $n, %f) = @_;
    $self->_locked(sub {
        my ($pr) = grep { $_->{number} == $n } @{ $_[0]{pulls} } or die "no pull request $n";
        %$pr = (%$pr, %f);
        $_[0];
    });
}
sub merge_pull { $_[0]->_set_pull($_[1], state => 'closed', merged => JSON::PP::true,
                             merged_at => _iso(time), closed_at => _iso(time)) }
sub close_pull { $_[0]->_set_pull($_[1], state => 'closed', closed_at => _iso(time)) }

# a pull request as GitHub's REST API writes one (the fields used here)
sub _pull {
    my ($n, $full, $host, $head, $base, $title, $body, $draft) = @_;
    my ($owner) = split m{/}, $full;
    return { id => 1000 + $n, number => $n, state => 'open',
             url => "http://$host/repos/$full/pulls/$n",
             html_url => "https://github.com/$full/pull/$n",
             title => $title, body => $body,
             draft => $draft ? JSON::PP::true : JSON::PP::false,
             merged => JSON::PP::false, merged_at => undef, closed_at => undef,
             head => { ref => $head, label => "$owner:$head" },
             base => { ref => $base, label => "$owner:$base" } };
}

sub _write {
    my ($self, $s) = @_;
    open my $f, '>', $self->{state} or die "$self->{state}: $!";
    print $f encode_json($s);
    close $f;
}

# $code->($state) under a lock; what it returns is written back if a hash
sub _locked {
    my ($self, $code) = @_;
    open my $f, '+<', $self->{state} or die "$self->{state}: $!";
    flock $f, LOCK_EX;
    my $s = decode_json(do { local $/; <$f> });
    my $r = $code->($s);
    seek $f, 0, 0;
    truncate $f, 0;
    print $f encode_json($s);
    close $f;
    return $r;
}

sub _uri_unescape { my $s = shift; $s =~ s/\+/ /g; $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge; $s }

my $DOCS = 'https://docs.github.com/rest/pulls/pulls';

sub _answer {
    my ($self, $c, $method, $path, $h, $req) = @_;
    my $send = \&Replicas::ScriptedServer::send_json;

    my $fail = $self->_locked(sub { delete $_[0]{fail} });
    return $send->($c, $fail->[0], { message => $fail->[1], documentation_url => $DOCS })
        if $fail;
    # GitHub's rate limit headers, on every answer
    my $limit = $self->_locked(sub { delete $_[0]{limit} });
    my $reset = $limit && $limit->{reset} ? $limit->{reset} : time + 3600;
    my @rl = ('X-RateLimit-Limit' => 5000, 'X-RateLimit-Remaining' => ($limit ? 0 : 4999),
              'X-RateLimit-Reset' => $reset, 'X-RateLimit-Used' => ($limit ? 5000 : 1),
              'X-RateLimit-Resource' => 'core');
    if ($limit && $limit->{status} == 429) {
        return $send->($c, 429, { message => 'You have exceeded a secondary rate limit. '
                                  . 'Please wait a few minutes before you try again.',
                                  documentation_url => 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
                       ['Retry-After' => $limit->{retry_after} // 60]);
    }
    if ($limit) {
        return $send->($c, $limit->{status}, { message => 'API rate limit exceeded for user ID 1.',
                                               documentation_url => 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api' },
                       \@rl);
    }
    my $send_plain = $send;
    $send = sub { my ($c, $st, $obj) = @_; $send_plain->($c, $st, $obj, \@rl) };

    return $send->($c, 401, { message => 'Bad credentials', documentation_url => $DOCS })
        unless ($h->{authorization} // '') eq "Bearer $self->{token}";
    # as GitHub: no X-GitHub-Api-Version means 2022-11-28 (kept in
    # requests(), so tests assert the engine pins it); a version it does
    # not speak is a 400.  (GitHub also has 2026-03-10, whose breaking
    # changes this stand-in does not speak: 400 here.)
    return $send->($c, 400, { message => 'Invalid API version', documentation_url => $DOCS })
        if defined $h->{'x-github-api-version'} && $h->{'x-github-api-version'} ne '2022-11-28';

    if (my ($one, $n) = $path =~ m{^/repos/([^/]+/[^/?]+)/pulls/(\d+)$}) {
        return $send->($c, 404, { message => 'Not Found', documentation_url => $DOCS })
            unless $method eq 'GET';
        my ($pr) = grep { $_->{number} == $n && $_->{html_url} =~ m{/\Q$one\E/pull/} }
                   @{ $self->_locked(sub { $_[0]{pulls} }) };
        return $send->($c, 404, { message => 'Not Found', documentation_url => $DOCS }) unless $pr;
        return $send->($c, 200, $pr);
    }
    my ($full, $query) = $path =~ m{^/repos/([^/]+/[^/?]+)/pulls(?:\?(.*))?$}
        or return $send->($c, 404, { message => 'Not Found', documentation_url => $DOCS });
    my $git_dir = $self->{repos}{$full}
        // return $send->($c, 404, { message => 'Not Found', documentation_url => $DOCS });
    my ($owner, $repo) = split m{/}, $full;

    if ($method eq 'GET') {
        my %q = map { my ($k, $v) = split /=/, $_, 2; (_uri_unescape($k) => _uri_unescape($v // '')) }
                split /&/, $query // '';
        my $list = $self->_locked(sub { $_[0]{pulls} });
        my @found = grep { (!defined $q{head} || $_->{head}{label} eq $q{head})
                           && (!defined $q{state} || $q{state} eq 'all' || $_->{state} eq $q{state}) }
                    @$list;
        return $send->($c, 200, \@found);
    }
    return $send->($c, 404, { message => 'Not Found', documentation_url => $DOCS })
        unless $method eq 'POST' && !defined $query;

    for my $f (qw(title head base)) {
        return $send->($c, 422, { message => 'Validation Failed', documentation_url => $DOCS,
                                  errors => [ { resource => 'PullRequest', field => $f,
                                                code => 'missing_field' } ] })
            unless defined $req->{$f} && !ref $req->{$f} && length $req->{$f};
    }
    my ($head, $base) = @$req{qw(head base)};
    return $send->($c, 422, { message => 'Validation Failed', documentation_url => $DOCS,
                              errors => [ { resource => 'PullRequest', field => 'head',
                                            code => 'invalid' } ] })
        if "$head$base" =~ /['\\\s]/;
    local $SIG{CHLD} = 'DEFAULT';        # the server ignores it; system() waits
    for my $b ([head => $head], [base => $base]) {
        system("git --git-dir='$git_dir' rev-parse -q --verify 'refs/heads/$b->[1]^{commit}' "
               . '>/dev/null 2>&1') == 0
            or return $send->($c, 422, { message => 'Validation Failed', documentation_url => $DOCS,
                                         errors => [ { resource => 'PullRequest', field => $b->[0],
                                                       code => 'invalid' } ] });
    }
    my $made = $self->_locked(sub {
        my $s = shift;
        return undef if grep { $_->{head}{ref} eq $head && $_->{base}{ref} eq $base
                               && $_->{state} eq 'open' } @{ $s->{pulls} };
        my $n = $s->{next}++;
        my $pr = _pull($n, $full, $h->{host}, $head, $base, $req->{title}, $req->{body},
                       $req->{draft});
        push @{ $s->{pulls} }, $pr;
        return $pr;
    });
    return $send->($c, 201, $made) if $made;
    return $send->($c, 422, { message => 'Validation Failed', documentation_url => $DOCS,
                              errors => [ { resource => 'PullRequest', code => 'custom',
                                            message => "A pull request already exists for $owner:$head." } ] });
}

1;
