# Under https the gateway marks its cookies Secure and builds every
# redirect with https: the login link, the ticket, the preview cookie.
# (curl is the client: it speaks TLS and shows the headers as sent.)

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(start_redis start_upstream free_port nginx_log_clean_ok);
use Replicas::Gateway qw(start_gateway put_workspace);
use Replicas::Identity qw(new_identity login_link);

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on', tls => 1);
my ($d, $gp) = ($gw->{domain}, $gw->{port});
my $port = free_port();
start_upstream(addr => '127.0.0.2', port => $port, name => 'tls-app');
my $me = new_identity($redis);
put_workspace($redis, 'tlsws', state => 'awake', addr => '127.0.0.2', org => $me->{org});
my $main = "https://$d:$gp";
my $preview = "https://$port-tlsws.$d:$gp";

# curl -k (self-signed), headers only; returns (status, {lowercased headers}, [set-cookies])
sub curl {
    my ($url, @h) = @_;
    my ($host) = $url =~ m{^https://([^/:]+)};
    my $hdrs = join ' ', map { "-H '$_'" } @h;
    my $out = qx{curl -sk -o /dev/null -D - --resolve $host:$gp:127.0.0.1 $hdrs '$url'};
    my ($status) = $out =~ /^HTTP\/\S+ (\d+)/;
    my (%h, @cookies);
    for (split /\r\n/, $out) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{lc $k} = $v;
        push @cookies, $v if lc $k eq 'set-cookie';
    }
    return ($status // 0, \%h, \@cookies);
}

my ($st, $h) = curl("$preview/x", 'Accept: text/html');
is($st, 302, 'a browser without a cookie is redirected');
like($h->{location}, qr{^\Q$main\E/auth/preview\?to=https%3A%2F%2F}, 'to the https main domain, for an https URL');

my $link = login_link($redis, $me->{user}, $main);
($st, $h, my $c) = curl($link, 'Accept: text/html');
is($st, 303, 'the login link logs in');
my ($session) = grep { /^replicas_session=/ } @$c;
like($session, qr/; Secure/, 'the session cookie is Secure under https');
like($session, qr/HttpOnly/, 'and HttpOnly');
my ($sv) = $session =~ /^(replicas_session=[^;]+)/;

($st, $h) = curl("$main/auth/preview?to=" . "https%3A%2F%2F$port-tlsws.$d%3A$gp%2Fx", 'Accept: text/html',
                 "Cookie: $sv");
is($st, 302, 'a ticket');
like($h->{location}, qr{^\Q$preview\E/\.replicas/auth\?replicas_ticket=}, 'back to the https preview');
($st, $h, $c) = curl($h->{location}, 'Accept: text/html');
is($st, 302, 'exchanged');
is($h->{location}, "$preview/x", 'for the original https URL');
my ($pc) = grep { /^replicas_preview=/ } @$c;
like($pc, qr/; Secure/, 'the preview cookie is Secure under https');
my ($pv) = $pc =~ /^(replicas_preview=[^;]+)/;
($st) = curl("$preview/x", "Cookie: $pv");
is($st, 200, 'and opens the preview over https');

done_testing();
