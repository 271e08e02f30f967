# The worker never fetches from inside the platform on a tenant's behalf
# (SSRF): a git daemon and an HTTP listener on loopback, standing in for
# what only this machine reaches, must see no connection from any create
# or image refresh naming them.  Literal special addresses and localhost
# names are refused by the API (400); names that resolve there (here
# through the worker's --repo-hosts, the test's own hosts view) are
# resolved and refused by the worker before any fetch, and the workspace
# fails saying why.  Needs root (control).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use IO::Socket::INET;
use POSIX ();
use File::Path qw(make_path);
use Replicas::Test qw(start_redis free_port poll_until tmpdir);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Workspaces;
use Replicas::Control qw(start_control fixture_repo);

my $dir = tmpdir() . '/inside';
make_path("$dir/git");

# a loopback-only repository, served by git daemon (each connection logged)
my $src = fixture_repo('secret', { 'secret.txt' => "only this machine\n" });
system('git', 'clone', '-q', '--bare', $src, "$dir/git/secret.git") == 0 or die 'git clone --bare';
my $gport = free_port();
my $daemon = fork // die;
if (!$daemon) {
    open STDIN, '<', '/dev/null';
    open STDERR, '>', "$dir/daemon.log" or POSIX::_exit(127);
    exec 'git', 'daemon', '--reuseaddr', '--listen=127.0.0.1', "--port=$gport",
         "--base-path=$dir/git", '--export-all', '--verbose', '--log-destination=stderr'
        or POSIX::_exit(127);
}

# an HTTP listener that writes down every connection it accepts
my $hport = free_port();
my $http = fork // die;
if (!$http) {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $hport, Listen => 16,
                                  ReuseAddr => 1) or POSIX::_exit(1);
    while (my $c = $l->accept) {
        open my $log, '>>', "$dir/http.log" or POSIX::_exit(1);
        print $log "connection\n";
        close $log;
        print $c "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n";
        close $c;
    }
    POSIX::_exit(0);
}
END { kill 'TERM', $_ for grep { $_ } ($daemon, $http); }

sub slurp { open my $f, '<', $_[0] or return ''; local $/; return <$f> // '' }
sub connections {
    my @c = (slurp("$dir/daemon.log") =~ /Connection from/g);
    return scalar(@c) + scalar(() = slurp("$dir/http.log") =~ /connection/g);
}

# both listeners do see a connection when there is one
poll_until(10, sub { system("git ls-remote git://127.0.0.1:$gport/secret.git >/dev/null 2>&1") == 0 })
    or die 'git daemon did not start';
IO::Socket::INET->new(PeerAddr => "127.0.0.1:$hport")->close;
ok(poll_until(5, sub { connections() >= 2 }), 'the listeners see connections');
truncate "$dir/daemon.log", 0;
truncate "$dir/http.log", 0;
is(connections(), 0, 'counted from zero');

# the test's own names: what a DNS answer would say
open my $h, '>', "$dir/hosts" or die;
print $h "127.0.0.1 inside.test\n::ffff:127.0.0.1 mapped.test\n10.255.255.1 lan.test\n"
       . "8.8.8.8 both.test\n127.0.0.1 both.test\n";
close $h;

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $me = new_identity($redis);
my $ws = Replicas::Workspaces->new($gw, $me->{key});
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--repo-hosts', "$dir/hosts",
                                 '--image-refresh', 1]);

# --- refused by the API at once ------------------------------------------------
for my $url ("git://127.0.0.1:$gport/secret.git", "http://127.0.0.1:$hport/secret.git",
             "http://localhost:$hport/secret.git", "git://LOCALHOST.:$gport/secret.git",
             "http://inside.localhost:$hport/secret.git",
             "http://[::1]:$hport/secret.git", "http://[::ffff:127.0.0.1]:$hport/secret.git",
             "http://[::ffff:7f00:1]:$hport/secret.git", "http://2130706433:$hport/secret.git",
             "http://0x7f.1:$hport/secret.git", "git://127.1:$gport/secret.git",
             "http://0.0.0.0:$hport/secret.git", "http://169.254.169.254/latest/meta-data",
             "http://127.0.0.1%2e:$hport/x.git", "http://127.0.0.1:$hport:1/x.git") {
    my ($st, $j) = api($gw, $me->{key}, 'POST', '/v1/workspaces', { repository => $url });
    is($st, 400, "$url: 400");
    like($j->{error}{message} // $j->{message} // '', qr/host|port|localhost/, 'saying why');
}
my ($st, $j) = api($gw, $me->{key}, 'POST', '/v1/workspaces',
                   { repository => "https://github.com/o/r.git",
                     repositories => ["git://127.0.0.1:$gport/secret.git"] });
is($st, 400, 'one refused repository among several: 400');
is($redis->cmd('XLEN', 'replicas:jobs'), 0, 'no job was queued for any of them');

# --- resolved and refused by the worker ---------------------------------------------
for my $case (["git://inside.test:$gport/secret.git", qr/127\.0\.0\.1, in the loopback range/],
              ["http://inside.test:$hport/secret.git", qr/loopback/],
              ["http://mapped.test:$hport/secret.git", qr/IPv4-mapped/],
              ["git://lan.test/secret.git", qr/10\.255\.255\.1, in the private range/],
              ["git://10.255.255.1/secret.git", qr/private/],
              ["http://both.test:$hport/secret.git", qr/loopback/]) {
    my ($url, $why) = @$case;
    ($st, $j) = api($gw, $me->{key}, 'POST', '/v1/workspaces', { repository => $url });
    is($st, 201, "$url: taken by the API");
    my $id = $j->{id};
    is($ws->wait_state($id, 'failed'), 'failed', "$url: failed");
    ($st, $j) = api($gw, $me->{key}, 'GET', "/v1/workspaces/$id");
    like($j->{reason} // '', $why, "the reason says where it resolves ($j->{reason})");
    like($j->{reason} // '', qr/--allow-repo-range/, 'and what the operator could allow');
}

# --- image refreshes check the same way --------------------------------------------------
my $ikey = 'ssrfssrfssrfssrf';
$redis->cmd('HSET', "replicas:image:$ctl->{node}:$ikey", 'url', "git://inside.test:$gport/secret.git",
            'org', $me->{org}, 'name', 'secret', 'sha', '0' x 40, 'state', 'ready',
            'checked_at', 0, 'dir', "$dir/none");
$redis->cmd('SADD', "replicas:images:$ctl->{node}", $ikey);
ok(poll_until(30, sub { $ctl->log =~ /image\.check_(?:failed|refused) image=$ikey .*loopback/ }),
   'an image refresh of a name resolving to loopback is refused before ls-remote')
    or diag $ctl->log;

is(connections(), 0, 'the git daemon and the HTTP listener saw no connection at all')
    or diag slurp("$dir/daemon.log");

done_testing();
