using Actorvisor.Host.Tests.Cluster;

namespace Actorvisor.Host.Tests.Cli;

/// <summary>
/// The CLI's secret files (--token-file, --tls-password-file, the --tls-certificate holding its private key) are
/// checked as the node checks its own: one its group or other users may read is refused before anything is sent,
/// naming the file, its mode and the fix.
/// </summary>
public sealed class ClientSecretFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("actorvisor-client-secrets-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Secret(string name, UnixFileMode mode)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, "tok-client-secret\n");
        File.SetUnixFileMode(path, mode);
        return path;
    }

    [Theory]
    [InlineData(0b110_100_100, "its group and other users", "0644")]
    [InlineData(0b110_100_000, "its group", "0640")]
    [InlineData(0b110_000_100, "other users", "0604")]
    public async Task A_token_file_others_may_read_is_refused_naming_the_file_and_the_fix(int mode, string who, string octal)
    {
        var file = Secret("token", (UnixFileMode)mode);
        var r = await ActorvisorProcess.RunAsync(["vm", "list", "--node", "127.0.0.1:9", "--token-file", file, "--timeout", "5"]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"--token-file: {file} is accessible by {who} (mode {octal}); a secret must be readable by its owner only: chmod 600 {file}", r.Stderr);
        Assert.DoesNotContain("tok-client-secret", r.Stdout + r.Stderr);
    }

    [Fact]
    public async Task The_http_path_checks_its_token_file_as_well()
    {
        var file = Secret("token", (UnixFileMode)0b110_100_100);
        var r = await ActorvisorProcess.RunAsync(["vm", "list", "--http", "http://127.0.0.1:9", "--token-file", file, "--timeout", "5"]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"--token-file: {file} is accessible by its group and other users (mode 0644)", r.Stderr);
        Assert.DoesNotContain("tok-client-secret", r.Stdout + r.Stderr);
    }

    [Fact]
    public async Task A_token_file_in_the_environment_is_checked_too()
    {
        var file = Secret("token", (UnixFileMode)0b110_100_100);
        var r = await ActorvisorProcess.RunAsync(["vm", "list", "--node", "127.0.0.1:9", "--timeout", "5"],
            environment: new Dictionary<string, string> { ["ACTORVISOR_TOKEN_FILE"] = file });
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"--token-file: {file} is accessible by", r.Stderr);
    }

    [Fact]
    public async Task An_owner_only_token_file_is_accepted_and_the_cli_goes_on_to_connect()
    {
        var file = Secret("token", (UnixFileMode)0b110_000_000);
        var r = await ActorvisorProcess.RunAsync(["vm", "list", "--node", "127.0.0.1:9", "--token-file", file, "--timeout", "3"]);
        Assert.NotEqual(0, r.ExitCode); // nothing listens on port 9
        Assert.DoesNotContain("chmod 600", r.Stderr);
        Assert.DoesNotContain("--token-file", r.Stderr);
    }

    [Fact]
    public async Task A_tls_password_file_and_a_certificate_others_may_read_are_refused()
    {
        var ca = Path.Combine(_dir, "ca.pem");
        File.WriteAllText(ca, "not checked before the certificate\n");
        var cert = Secret("client.p12", (UnixFileMode)0b110_100_100);
        var password = Secret("password", (UnixFileMode)0b110_000_000);
        var r = await ActorvisorProcess.RunAsync(["vm", "list", "--node", "127.0.0.1:9", "--tls-certificate", cert, "--tls-ca", ca, "--tls-password-file", password]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"--tls-certificate: {cert} is accessible by its group and other users (mode 0644)", r.Stderr);

        File.SetUnixFileMode(cert, (UnixFileMode)0b110_000_000);
        File.SetUnixFileMode(password, (UnixFileMode)0b110_110_000);
        r = await ActorvisorProcess.RunAsync(["vm", "list", "--node", "127.0.0.1:9", "--tls-certificate", cert, "--tls-ca", ca, "--tls-password-file", password]);
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.Contains($"--tls-password-file: {password} is accessible by its group (mode 0660); a secret must be readable by its owner only: chmod 600 {password}", r.Stderr);
    }
}
