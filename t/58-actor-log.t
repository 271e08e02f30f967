# The access log names the actor ($replicas_actor): an API key's public
# prefix (API, previews, POST /login), a browser's user (its preview
# cookie, and its session or login link on the main domain), a share
# link, or "-" without a valid credential; never a key's secret.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(start_redis start_upstream http_request free_port);
use Replicas::Gateway qw(start_gateway put_workspace signing_keys_file);
use Replicas::Identity qw(new_identity api login_link);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', keys => signing_keys_file('k1'));
my $d = $gw->{domain};
my $gp = $gw->{port};
my $main = "http://$d:$gp";

my $port = free_port();
my $up = start_upstream(addr => '127.0.0.2', port => $port, name => 'A');
my $me = new_identity($redis);
put_workspace($redis, 'wsa', state => 'awake', addr => '127.0.0.2', org => $me->{org});
my $hostA = "$port-wsa.$d";
my $html = ['Accept', 'text/html'];
my ($prefix) = $me->{key} =~ /^rk_([A-Za-z0-9]{8})_/ or die "key form: $me->{key}";

sub get {
    my (%o) = @_;
    my $jar = $o{jar} // {};
    my @h = @{ $o{headers} // [] };
    my $cookie = join '; ', map { "$_=$jar->{$_}" } sort keys %$jar;
    push @h, ['Cookie', $cookie] if length $cookie;
    my $host = $o{host} =~ /:\d+$/ ? $o{host} : "$o{host}:$gp";
    my $res = http_request(port => $gp, host => $host, path => $o{path} // '/',
                           method => 'GET', headers => \@h);
    for (@{ $res->{all}{'set-cookie'} // [] }) {
        my ($k, $v) = /^([^=]+)=([^;]*)/ or next;
        $jar->{$k} = $v;
    }
    return $res;
}

sub follow {
    my ($res, $jar) = @_;
    ($res->{headers}{location} // '') =~ m{^http://([^/]+)(/.*)$} or return;
    return get(host => $1, path => $2, jar => $jar, headers => [$html]);
}

# the actor of the access log's line for "METHOD host/path" with this status
# (nginx writes the line once the answer is sent: it may come a moment
# after the client has read it, so the count of such lines is awaited)
my %seen;
sub actor_of {
    my ($what, $status) = @_;
    my @m;
    Replicas::Test::poll_until(3, sub {
        local (@ARGV, $/) = glob($gw->{nginx}->dir . '/logs/access*');
        my $log = <>;
        @m = $log =~ /"\Q$what\E" \Q$status\E .* actor=(\S+)$/mg;
        return @m > ($seen{"$what $status"} // 0);
    });
    $seen{"$what $status"} = @m;
    return $m[-1] // 'no such line';
}

# an API key: on the API, and on a preview as a Bearer
my ($st) = api($gw, $me->{key}, 'GET', '/v1/workspaces');
is($st, 200, 'the API with a key');
is(actor_of("GET $d/v1/workspaces", 200), "key:$prefix", 'logged as the key\'s prefix');
($st) = api($gw, "rk_AAAAAAAA_notakey", 'GET', '/v1/workspaces');
is($st, 401, 'a wrong key');
is(actor_of("GET $d/v1/workspaces", 401), '-', 'names no one');

is(get(host => $hostA, path => '/by-key',
       headers => [['Authorization', "Bearer $me->{key}"]])->{status}, 200, 'a preview with a Bearer key');
is(actor_of("GET $hostA/by-key", 200), "key:$prefix", 'logged as the key\'s prefix');

# a browser: logged in, then its preview cookie
my %jar;
my ($lh, $lp) = login_link($redis, $me->{user}, $main) =~ m{^http://([^/]+)(/.*)$};
get(host => $lh, path => $lp, jar => \%jar, headers => [$html]);
follow(follow(follow(get(host => $hostA, headers => [$html]), \%jar), \%jar), \%jar);
ok($jar{replicas_preview}, 'a preview cookie');
is(get(host => $hostA, path => '/by-cookie', jar => \%jar)->{status}, 200, 'a preview with it');
is(actor_of("GET $hostA/by-cookie", 200), "user:$me->{user}", 'logged as the user');

# the main domain with the session cookie: the user, never the cookie
is(actor_of("GET $d/login", 303), "user:$me->{user}", 'a login link: logged as its user');
is(actor_of("GET $d/auth/preview", 302), "user:$me->{user}", 'a ticket for the session: logged as its user');
my $to = "http://$hostA:$gp/x";
$to =~ s/([^A-Za-z0-9])/sprintf('%%%02X', ord $1)/ge;
is(get(host => $d, path => "/auth/preview?to=$to", headers => [$html])->{status}, 302,
   '/auth/preview without a session: to the login page');
is(actor_of("GET $d/auth/preview", 302), '-', 'names no one');
my $member = Replicas::Identity::control($redis, 'user', 'create', '--org', $me->{org},
                                         '--email', 'm@example.com');
chomp $member;
my %mjar;
my ($mh, $mp) = login_link($redis, $member, $main) =~ m{^http://([^/]+)(/.*)$};
get(host => $mh, path => $mp, jar => \%mjar, headers => [$html]);
is(get(host => $d, path => "/auth/preview?to=$to", jar => \%mjar, headers => [$html])->{status}, 403,
   'a member\'s session and a workspace it does not own: 403');
is(actor_of("GET $d/auth/preview", 403), "user:$member", 'logged as the member');

sub post_form {
    my ($path, $body, $jar) = @_;
    my $cookie = join '; ', map { "$_=$jar->{$_}" } sort keys %{ $jar // {} };
    return http_request(port => $gp, host => "$d:$gp", path => $path, method => 'POST', body => $body,
                        headers => [$html, ['Origin', $main],
                                    ['Content-Type', 'application/x-www-form-urlencoded'],
                                    length $cookie ? ['Cookie', $cookie] : ()]);
}
is(post_form('/login', "key=$me->{key}&next=/")->{status}, 303, 'POST /login with a key');
is(actor_of("POST $d/login", 303), "key:$prefix", 'logged as the key\'s prefix');
is(post_form('/login', "key=rk_AAAAAAAA_notakey&next=/")->{status}, 401, 'POST /login with a wrong key');
is(actor_of("POST $d/login", 401), '-', 'names no one');
is(post_form('/logout', '', \%mjar)->{status}, 200, 'POST /logout with the member\'s session');
is(actor_of("POST $d/logout", 200), "user:$member", 'logged as the member');

# a share link
(undef, my $ws) = api($gw, $me->{key}, 'POST', '/v1/workspaces', { repository => 'r' });
put_workspace($redis, $ws->{id}, state => 'awake', addr => '127.0.0.2');
(undef, my $share) = api($gw, $me->{key}, 'POST', "/v1/workspaces/$ws->{id}/previews/$port/shares", undef);
my ($sh, $sp) = $share->{url} =~ m{^http://([^/]+)(/.*)$};
is(get(host => $sh, path => $sp)->{status}, 200, 'a share link');
(my $shost = $sh) =~ s/:\d+$//;
is(actor_of("GET $shost/", 200), "share:$share->{id}", 'logged as the share');

# no credential
is(get(host => $hostA, path => '/nobody')->{status}, 401, 'no credential');
is(actor_of("GET $hostA/nobody", 401), '-', 'logged as "-"');

my $logs = join '', map { local (@ARGV, $/) = $_; <> } glob($gw->{nginx}->dir . '/logs/*');
(my $secret = $me->{key}) =~ s/^rk_[^_]+_//;
unlike($logs, qr/\Q$secret\E/, 'no key secret in the logs');
unlike($logs, qr/notakey/, 'not even a wrong one');

done_testing();
