using System.Diagnostics;
using System.Text.RegularExpressions;
using Actorvisor.Host.Api.V1;
using Xunit.Abstractions;

namespace Actorvisor.Host.Tests.Cluster;

/// <summary>
/// The sample orchestrator (samples/Orchestrator, built on the client library alone) against a 3-node loopback cluster
/// with TLS and a token: it creates its fleet, sees the triple-fault VM fail, restarts it, gives up on it when it fails
/// again, prints the summary and destroys the fleet.
/// </summary>
[Collection(ClusterCollection.Name)]
public sealed class OrchestratorSampleTests(SecureCluster cluster, ITestOutputHelper log) : IClassFixture<SecureCluster>
{
    // The run itself took about 11 s here (four creates and starts, two failures, one restart, 2 s of settling).
    private static readonly TimeSpan RunLimit = TimeSpan.FromSeconds(240);

    [Fact]
    public async Task The_sample_creates_its_fleet_and_restarts_the_vm_that_fails()
    {
        var tls = cluster.Tls!;
        var tokenFile = Path.Combine(cluster.Root, "orchestrator-token");
        PrivateFile.WriteAllText(tokenFile, cluster.Token!);
        var run = await RunSampleAsync(
        [
            "--node", cluster.Contact(0), "--node", cluster.Contact(1), "--token-file", tokenFile,
            "--tls-certificate", tls.ClientCertificate, "--tls-password-file", tls.PasswordFile, "--tls-ca", tls.CaPath,
            "--vm", "web-1=spin", "--vm", "web-2=spin", "--vm", "web-3=spin", "--vm", "crashy=triple-fault",
            "--max-restarts", "1", "--exit-when-settled", "--settle", "2", "--duration", "200",
        ]);
        var output = run.Stdout;
        log.WriteLine(output);
        Assert.True(run.ExitCode == 0, run.ToString());
        void Has(string pattern) => Assert.True(Regex.IsMatch(output, pattern), $"'{pattern}' is not in the sample's output:\n{run}");
        Has("connected: cluster actorvisor, 3 hypervisors up");
        foreach (var vm in new[] { "web-1", "web-2", "web-3", "crashy" })
        {
            Has($@"created: {vm} on n[123] ");
            Has($@"started: {vm} on n[123] ");
            Assert.Contains($"destroyed: {vm}", output);
        }
        // Seen failing, restarted once, seen failing again, given up on.
        Has(@"failed: crashy on n[123]: .*triple fault.* \(failure 1\)");
        Assert.Contains("restarting: crashy (restart 1 of at most 1)", output);
        Has(@"recreated: crashy on n[123] ");
        Has(@"restarted: crashy on n[123] ");
        Has(@"failed: crashy on n[123]: .*triple fault.* \(failure 2\)");
        Assert.Contains("gave up: crashy failed 2 times, after 1 restarts", output);
        Assert.Contains("watch: the fleet has settled", output);
        Assert.Contains("summary: 4 VMs, 3 running, 1 given up on, 2 failures, 1 restarts", output);
        Has(@"\n\S+ +web-2 +Running +n[123] +0 +0  -");
        Has(@"\n\S+ +crashy +gave-up +n[123] +2 +1  .*triple fault");
        // The failure it acted on came from the event stream (its outcome from a describe), not from a reply.
        Has(@"event: crashy on n[123] is Failed \(");
        var left = Assert.IsType<VmListReply>(await cluster.Client.RequestAsync(new ListVmsRequest()));
        Assert.DoesNotContain(left.Vms, v => v.Name is "web-1" or "web-2" or "web-3" or "crashy");
    }

    [Fact]
    public async Task The_sample_refuses_bad_options_before_connecting()
    {
        var run = await RunSampleAsync(["--node", cluster.Contact(0), "--vm", "bad name=spin"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--vm bad name: spec.name:", run.Stderr);
    }

    // The sample's own output folder (beside the tests' its dependencies would be the daemon's), same configuration as the tests.
    private static string SampleDll()
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "Actorvisor.sln")))
                return Path.Combine(d.FullName, "samples", "Orchestrator", "bin", configuration, "net10.0", "actorvisor-orchestrator.dll");
        }
        throw new InvalidOperationException($"no Actorvisor.sln above {AppContext.BaseDirectory}");
    }

    private static async Task<CliResult> RunSampleAsync(IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(SampleDll());
        foreach (var a in args) info.ArgumentList.Add(a);
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(RunLimit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            throw new TimeoutException($"the sample did not finish within {RunLimit.TotalSeconds} s: {await stdout}{await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }
}
