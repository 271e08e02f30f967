# replicas_trusted_proxies (issue 19): behind a TLS proxy, a peer in the
# list that says X-Forwarded-Proto: https gets Secure cookies and https://
# redirects; from any other peer the header is ignored.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use Replicas::Test qw(start_redis http_request free_port);
use Replicas::Gateway qw(start_gateway put_workspace signing_keys_file);
use Replicas::Identity qw(new_identity);

my $redis = start_redis();
my $keys = signing_keys_file('k1');
my %gw = (trusted   => start_gateway(redis => $redis, auth => 'on', keys => $keys,
                                     extra_http => 'replicas_trusted_proxies 10.0.0.0/8 127.0.0.0/8;'),
          untrusted => start_gateway(redis => $redis, auth => 'on', keys => $keys,
                                     extra_http => 'replicas_trusted_proxies 10.0.0.0/8;'));
my $me = new_identity($redis);
my $port = free_port();
put_workspace($redis, 'wsa', state => 'awake', addr => '127.0.0.2', org => $me->{org},
              user => $me->{user});
sub uri_escape { my ($s) = @_; $s =~ s/([^A-Za-z0-9._~-])/sprintf('%%%02X', ord $1)/ge; return $s }
my @html = (['Accept', 'text/html'], ['X-Forwarded-Proto', 'https']);

for my $which (qw(trusted untrusted)) {
    my $g = $gw{$which};
    my ($d, $gp) = ($g->{domain}, $g->{port});
    my $s = $which eq 'trusted' ? 'https' : 'http';
    my $secure = $which eq 'trusted' ? qr/; Secure/ : qr/^(?!.*Secure)/;
    my $r = http_request(port => $gp, host => "$port-wsa.$d:$gp", path => '/', headers => [@html]);
    like($r->{headers}{location} // '', qr{^\Q$s\E://\Q$d:$gp\E/auth/preview\?to=\Q$s\E%3A%2F%2F},
         "$which: the login redirect says $s://");
    $r = http_request(port => $gp, host => "$d:$gp", path => '/login', method => 'POST',
                      body => "key=$me->{key}&next=/",
                      headers => [@html, ['Origin', "$s://$d:$gp"],
                                  ['Content-Type', 'application/x-www-form-urlencoded']]);
    my ($sc) = grep { /^replicas_session=/ } @{ $r->{all}{'set-cookie'} // [] };
    like($sc // '', qr/^replicas_session=/, "$which: POST /login with Origin $s:// logs in");
    like($sc // '', $secure, "$which: the session cookie " . ($s eq 'https' ? 'is' : 'is not') . ' Secure');
    my ($sid) = ($sc // '') =~ /^replicas_session=([^;]+)/;
    my $to = uri_escape("$s://$port-wsa.$d:$gp/");
    $r = http_request(port => $gp, host => "$d:$gp", path => "/auth/preview?to=$to",
                      headers => [@html, ['Cookie', "replicas_session=$sid"]]);
    like($r->{headers}{location} // '', qr{^\Q$s\E://\Q$port\E-wsa\.\Q$d:$gp\E/\.replicas/auth\?replicas_ticket=},
         "$which: the ticket redirect says $s://");
    my ($tpath) = ($r->{headers}{location} // '') =~ m{^[a-z]+://[^/]+(/.*)$};
    $r = http_request(port => $gp, host => "$port-wsa.$d:$gp", path => $tpath // '/', headers => [@html]);
    ($sc) = grep { /^replicas_preview=/ } @{ $r->{all}{'set-cookie'} // [] };
    like($sc // '', qr/^replicas_preview=/, "$which: the ticket gives a preview cookie");
    like($sc // '', $secure, "$which: Secure only from a trusted proxy");
    is($r->{headers}{location}, "$s://$port-wsa.$d:$gp/", "$which: back to $s://");
}

done_testing();
