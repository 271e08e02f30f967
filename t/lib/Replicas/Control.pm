package Replicas::Control;

# The control worker for tests: `replicas-control serve` with real local
# sandboxes (network namespaces, bubblewrap, overlayfs, cgroups), so it
# needs root, as ./auto/test runs.  Each test gets its own node name,
# bridge and address range, and at its end every sandbox it made is
# destroyed and its network removed (`serve --teardown`).
# Also: fixture repositories made with git, in the test's temp dir.

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use Time::HiRes qw(time sleep);
use Test::More ();
use Test2::API ();
use Replicas::Test qw(engine_bin control_bin objs_dir tmpdir poll_until);

our @EXPORT_OK = qw(start_control fixture_repo git_commit engine_pid is_mount);

my @controls;
my $n = 0;

END {
    my $status = $?;
    for my $c (@controls) {
        eval { $c->stop; $c->teardown };
    }
    $? = $status;
}

# When the test is done (done_testing): what a sanitizer said in the logs
# of control's workers and of the engines of sandboxes still there (in a
# sandbox the engine's stderr is its engine.log; auto/test's sanitizer
# pass gives sandboxes the ASan engine through engine_bin()).  Control's
# own reports go to ASAN_OPTIONS's log_path, read by auto/test.
Test2::API::test2_add_callback_testing_done(sub {
    for my $c (@controls) {
        my @logs = (@{ $c->{logs} }, glob("$c->{home}/sandboxes/*/engine.log"));
        my @found;
        for my $f (@logs) {
            open my $fh, '<', $f or next;
            while (my $line = <$fh>) {
                push @found, "$f: $line"
                    if $line =~ /ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: \w+Sanitizer/;
            }
        }
        Test::More::ok(!@found, "no sanitizer report in control's and the engines' logs ($c->{node})")
            or Test::More::diag(@found[0 .. ($#found > 20 ? 20 : $#found)]);
    }
});

# start_control(redis => $r, gateway => $gw, args => [...], workers => 1)
# -> an object; args are added to serve's own (--memory 256 ...).
sub start_control {
    my (%o) = @_;
    $> == 0 or die "the control tests need root (sandboxes are namespaces, "
                   . "cgroups and a bridge): run them as ./auto/test does\n";
    my $redis = $o{redis} or die 'start_control needs redis';
    $n++;
    my $tag = sprintf('%d%d', $$ % 10000, $n);
    my $self = bless {
        redis => $redis,
        node  => "test-$tag",
        net   => "t$tag",
        range => sprintf('10.215.%d.0/24', ($$ + $n * 7) % 250),
        home  => $o{home} // tmpdir() . "/control-$tag",
        args  => $o{args} // [],
        gw    => $o{gateway},
        pids  => [],
        logs  => [],
    }, __PACKAGE__;
    make_path($self->{home});
    chmod 0755, $self->{home};
    $self->start for 1 .. ($o{workers} // 1);
    push @controls, $self;
    return $self;
}

sub common_args {
    my ($self) = @_;
    # no traffic leaves the machine unless a test asks (then with no
    # resolver: a lookup fails at once, it never reaches the network)
    my @a = ('--home', $self->{home}, '--node', $self->{node},
             '--net-name', $self->{net}, '--net-range', $self->{range},
             '--engine', engine_bin(),
             # the agents' CLIs of the build (beside a sanitizer build's
             # control there are none)
             '--agents-dir', objs_dir() . '/agents',
             '--egress', 'off', '--dns', 'none',
             # many tests make many sandboxes: no desktop unless a test
             # asks (args => ['--desktop', 'on'] wins, coming later)
             '--desktop', 'off',
             # a sleep that stops the sandbox at once, as the tests of
             # wakes expect (a fresh engine, a new key, the hook again);
             # t/62 tests the light sleep (frozen first), the default
             '--deep-sleep-after', 0);
    push @a, '--allow-port', $self->{gw}{port} if $self->{gw};
    # the gateway seals environments with this key; control opens them
    push @a, '--secrets-key', $self->{gw}{secrets_key}
        if $self->{gw} && $self->{gw}{secrets_key};
    return @a;
}

# one more worker (same node, same network), logging to its own file
sub start {
    my ($self) = @_;
    my $i = @{ $self->{logs} };
    my $log = "$self->{home}/control-$i.log";
    my @cmd = (control_bin(), '--redis',
               "127.0.0.1:$self->{redis}{port}", 'serve', $self->common_args,
               @{ $self->{args} });
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    push @{ $self->{pids} }, $pid;
    push @{ $self->{logs} }, $log;
    poll_until(10, sub { $self->log =~ /worker\.start .*consumer=\S+-$pid / })
        or die "replicas-control serve did not start:\n" . $self->log;
    return $pid;
}

# all workers' logs, concatenated
sub log {
    my ($self) = @_;
    my $all = '';
    for my $f (@{ $self->{logs} }) {
        open my $fh, '<', $f or next;
        local $/;
        $all .= <$fh> // '';
    }
    return $all;
}

sub _stop_one {
    my ($pid, $sig) = @_;
    kill $sig, $pid;
    my $deadline = time + 20;
    while (time < $deadline) {
        return if waitpid($pid, WNOHANG) != 0;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
}

# stops worker $i (all of them without $i) with TERM, or KILL with kill9
sub stop {
    my ($self, $i) = @_;
    my @which = defined $i ? ($i) : (0 .. $#{ $self->{pids} });
    for my $k (@which) {
        my $pid = $self->{pids}[$k] or next;
        _stop_one($pid, 'TERM');
        $self->{pids}[$k] = undef;
    }
}

sub kill9 {
    my ($self, $i) = @_;
    my $pid = $self->{pids}[$i] or return;
    _stop_one($pid, 'KILL');
    $self->{pids}[$i] = undef;
}

sub pid { $_[0]{pids}[$_[1] // 0] }

# every sandbox of this node destroyed, the bridge and firewall removed
sub teardown {
    my ($self) = @_;
    return if $self->{torn};
    $self->{torn} = 1;
    my @cmd = (control_bin(), '--redis',
               "127.0.0.1:$self->{redis}{port}", 'serve', $self->common_args,
               '--teardown');
    system(join(' ', map { "'$_'" } @cmd) . " >>'$self->{home}/teardown.log' 2>&1");
}

# A git repository in the temp dir with the given files, committed on
# main: fixture_repo('app', { 'index.html' => '...' }, $org) -> its path,
# tmpdir/repos/<org>/app: the organisation's own folder under the
# worker's --repo-root (tmpdir/repos), the only one its workspaces may use.
# Without an org: tmpdir/repos/app, which no organisation may use (a
# source for a git host of the test's own).
sub fixture_repo {
    my ($name, $files, $org) = @_;
    my $dir = tmpdir() . '/repos/' . (defined $org ? "$org/" : '') . $name;
    make_path($dir);
    _git($dir, 'init', '-q', '-b', 'main');
    _git($dir, 'config', 'user.email', 'fixture@example.com');
    _git($dir, 'config', 'user.name', 'Fixture');
    git_commit($dir, $files, 'first');
    return $dir;
}

sub git_commit {
    my ($dir, $files, $msg) = @_;
    for my $f (sort keys %$files) {
        my $path = "$dir/$f";
        (my $parent = $path) =~ s{/[^/]+$}{};
        make_path($parent);
        open my $fh, '>', $path or die "$path: $!";
        print $fh $files->{$f};
        close $fh;
    }
    _git($dir, 'add', '-A');
    _git($dir, 'commit', '-q', '-m', $msg);
}

sub _git {
    my ($dir, @args) = @_;
    system('git', '-C', $dir, @args) == 0 or die "git @args in $dir failed\n";
}


# the engine's process of a sandbox on the host: in the sandbox's cgroup
# (its id in /proc/<pid>/cgroup), by its name; undef if none
sub engine_pid {
    my ($sb) = @_;
    return unless defined $sb;
    for my $dir (glob '/proc/[0-9]*') {
        my ($pid) = $dir =~ m{(\d+)$};
        open my $c, '<', "$dir/comm" or next;
        my $comm = <$c> // '';
        chomp $comm;
        next unless $comm eq 'replicas-engine';
        open my $g, '<', "$dir/cgroup" or next;
        local $/;
        my $cg = <$g> // '';
        return $pid if $cg =~ /\Q$sb\E/;
    }
    return;
}

# 1 if $path is a mount point in this process's view
sub is_mount {
    my ($path) = @_;
    open my $fh, '<', '/proc/self/mountinfo' or return 0;
    while (<$fh>) {
        return 1 if (split / /)[4] eq $path;
    }
    return 0;
}

1;
