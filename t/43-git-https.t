# A private repository over https: a local stand-in for a git host (nginx
# with TLS and basic auth in front of git's own smart-HTTP backend through
# fcgiwrap) that takes the organisation's token, kept sealed in its Global
# environment as REPLICAS_GIT_TOKEN.  The worker clones with libgit2,
# sending the token as credentials only: never in a URL, a log or the
# workspace's git config.  Needs root (real sandboxes).

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use JSON::PP;
use File::Path qw(make_path);
use Replicas::Test qw(start_redis start_nginx free_port http_request poll_until tmpdir);
use Replicas::Gateway qw(start_gateway ws_key);
use Replicas::Identity qw(new_identity api);
use Replicas::Control qw(start_control fixture_repo);

my $dir = tmpdir() . '/githost';
make_path("$dir/repos");
my $token = 'ghp_' . join('', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 24);

# the repository, bare, as a git host keeps it
my $src = fixture_repo('private', {
    'index.html' => "private app\n",
    'replicas.json' => encode_json({ startHook => { commands => [
        'python3 -m http.server 3000 --bind 0.0.0.0 >/dev/null 2>&1 &'] } }) });
system('git', 'clone', '-q', '--bare', $src, "$dir/repos/private.git") == 0 or die 'git clone --bare';

# TLS for the host's name (Debian's libgit2 verifies with mbedTLS, which
# knows DNS names, not IP addresses), trusted through REPLICAS_GIT_CA_FILE.
# The name, git.test, is the worker's to resolve (--repo-hosts: 127.0.0.1),
# and loopback is a range it fetches from only because this test allows it
# (--allow-repo-range 127.0.0.0/8); nothing else knows the name, so the
# clone works only if the worker pins it for libgit2's own lookup.
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=git.test "
       . "-addext subjectAltName=DNS:git.test -keyout $dir/tls.key -out $dir/tls.crt "
       . ">/dev/null 2>&1") == 0 or die 'openssl';
open my $pw, '>', "$dir/htpasswd" or die;
print $pw "x-access-token:{PLAIN}$token\n";
close $pw;

# git's smart-HTTP backend behind fcgiwrap
my $fcgi_pid = fork // die;
if (!$fcgi_pid) {
    open STDIN, '<', '/dev/null';
    exec 'fcgiwrap', '-s', "unix:$dir/fcgi.sock" or POSIX::_exit(127);
}
END { kill 'TERM', $fcgi_pid if $fcgi_pid; }
poll_until(10, sub { -S "$dir/fcgi.sock" }) or die 'fcgiwrap did not start';

my $git_port = free_port();
start_nginx(port => $git_port, module => '', http => <<"CONF");
    server {
        listen 127.0.0.1:$git_port ssl;
        ssl_certificate $dir/tls.crt;
        ssl_certificate_key $dir/tls.key;
        location / {
            auth_basic "git";
            auth_basic_user_file $dir/htpasswd;
            include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:$dir/fcgi.sock;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT $dir/repos;
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO \$uri;
            fastcgi_param REMOTE_USER \$remote_user;
        }
    }
CONF
my $url = "https://git.test:$git_port/private.git";
open my $hosts, '>', "$dir/hosts" or die;
print $hosts "127.0.0.1 git.test\n";
close $hosts;

my $redis = start_redis();
my $gw = start_gateway(redis => $redis, auth => 'on');
my $me = new_identity($redis);
my $them = new_identity($redis, email => 'other@example.com');
local $ENV{REPLICAS_GIT_CA_FILE} = "$dir/tls.crt";
my $ctl = start_control(redis => $redis, gateway => $gw,
                        args => ['--pool-size', 0, '--repo-hosts', "$dir/hosts",
                                 '--allow-repo-range', '127.0.0.0/8']);

sub wait_state {
    my ($id) = @_;
    poll_until(60, sub { my $s = $redis->cmd('HGET', ws_key($id), 'state') // '';
                         $s eq 'awake' || $s eq 'failed' });
    return $redis->cmd('HGET', ws_key($id), 'state') // '';
}

# without a token: the host refuses, the workspace fails saying why
my ($st, $j) = api($gw, $them->{key}, 'POST', '/v1/workspaces', { repository => $url });
my $denied = $j->{id};
is(wait_state($denied), 'failed', 'no token: the clone is refused, the workspace failed');
like($redis->cmd('HGET', ws_key($denied), 'reason') // '', qr/clone|auth|401|credentials/i,
     'with the clone error as the reason') or diag $redis->cmd('HGET', ws_key($denied), 'reason');

# the token in the organisation's Global environment
($st) = api($gw, $me->{key}, 'PUT', '/v1/environments/global',
            { variables => { REPLICAS_GIT_TOKEN => $token } });
is($st, 200, 'the token goes into the Global environment, sealed');
($st, $j) = api($gw, $me->{key}, 'POST', '/v1/workspaces', { repository => $url });
my $id = $j->{id};
is(wait_state($id), 'awake', 'with it, the private repository is cloned over https')
    or diag $ctl->log;
my $res;
poll_until(30, sub {
    $res = http_request(port => $gw->{port}, host => "3000-$id.$gw->{domain}",
                        headers => [['Authorization', "Bearer $me->{key}"]]);
    $res->{status} == 200 });
is($res->{body}, "private app\n", 'and its preview serves the checkout');

my $leak = `grep -rl -F '$token' $ctl->{home}/images $ctl->{home}/sandboxes 2>/dev/null`;
is($leak, '', 'the token is in no file of the image or the workspace (.git/config included)');
unlike($ctl->log, qr/\Q$token\E/, 'nor in the worker log');

done_testing();
