using System.Globalization;
using System.Net;
using System.Text.Json;
using Actorvisor.Host.Tests.Cluster;
using Microsoft.Playwright;

namespace Actorvisor.Host.Tests.Web;

/// <summary>
/// The node's web view in headless Chromium (Debian's chromium, driven by Playwright with its executable path: no
/// browser download), against a real node with its HTTP endpoint on: the page shows the VMs created through the API
/// and the node's capacity, a running guest's exit counter moves on the page, the console tail shows a guest's
/// output, and the stop button stops a VM (checked through the API). A screenshot is saved as
/// artifacts/web/web-view.png (a CI artifact).
/// </summary>
public sealed class WebViewBrowserTests(WebNodeFixture fixture) : IClassFixture<WebNodeFixture>
{
    // Each step takes well under a second here (the page loads in ~100 ms, counters come every second); a loaded CI
    // machine gets far more.
    private const float StepTimeoutMs = 60_000;

    private WebNode Node => fixture.Node;

    private async Task<string> StatusOf(string vm)
    {
        var (status, json) = await Node.SendJson(HttpMethod.Get, $"/api/v1/vms/{vm}");
        Assert.Equal(HttpStatusCode.OK, status);
        return json.GetProperty("vm").GetProperty("status").GetString()!;
    }

    private async Task CreateVm(string name, string image, bool start)
    {
        var (created, body) = await Node.Send(HttpMethod.Post, "/api/v1/vms", json: WebNode.CreateBody(name, image));
        Assert.True(created == HttpStatusCode.Created, body);
        if (start) Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, $"/api/v1/vms/{name}/start")).Status);
    }

    private static string ArtifactPath(string file)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Actorvisor.sln"))) dir = dir.Parent;
        var artifacts = Path.Combine(dir?.FullName ?? Path.GetTempPath(), "artifacts", "web");
        Directory.CreateDirectory(artifacts);
        return Path.Combine(artifacts, file);
    }

    [ChromiumFact]
    public async Task The_page_shows_vms_counters_move_and_a_button_stops_a_vm()
    {
        await CreateVm("web-spin", "spin", start: true);
        await CreateVm("web-idle", "spin", start: false);
        await CreateVm("web-hello", "hello", start: true);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumFactAttribute.Executable,
            Headless = true,
            Args = ["--disable-gpu", "--disable-dev-shm-usage"],
            // Chromium starts in about a second here; a loaded CI machine gets far more.
            Timeout = 180_000,
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 800 } });
        page.SetDefaultTimeout(StepTimeoutMs);
        var pageErrors = new List<string>();
        page.PageError += (_, e) => pageErrors.Add(e);
        Assertions.SetDefaultExpectTimeout(StepTimeoutMs);

        await page.GotoAsync(Node.BaseUrl + "/");
        // Without the token the page says so.
        await Assertions.Expect(page.Locator("#message")).ToContainTextAsync("missing API token");
        await page.FillAsync("#token-input", WebNode.Token);
        await page.ClickAsync("#token-save");
        Assert.Equal(WebNode.Token, await page.EvaluateAsync<string>("() => sessionStorage.getItem('actorvisor.token')"));

        // The node and its capacity, the VMs created through the API with their state, node, vCPUs and memory.
        var node = page.Locator("#nodes tr[data-node='w1']");
        await Assertions.Expect(node).ToContainTextAsync("Up");
        await Assertions.Expect(node).ToContainTextAsync("/ 8");
        await Assertions.Expect(node).ToContainTextAsync("/ 256 MiB");
        var spin = page.Locator("#vms tr[data-vm='web-spin']");
        await Assertions.Expect(spin.Locator("td.state")).ToHaveTextAsync("Running");
        await Assertions.Expect(spin).ToContainTextAsync("w1");
        await Assertions.Expect(spin).ToContainTextAsync("16 MiB");
        await Assertions.Expect(page.Locator("#vms tr[data-vm='web-idle'] td.state")).ToHaveTextAsync("Created");
        await Assertions.Expect(page.Locator("#vms tr[data-vm='web-hello'] td.state")).ToHaveTextAsync("Stopped");
        await Assertions.Expect(page.Locator("#stream-state")).ToHaveTextAsync("live");
        // Uptime from the node's record of when the guest first ran.
        await Assertions.Expect(spin.Locator("td.uptime")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^\\d+(s|m \\d+s)$"));

        // The running guest's exit counter moves on the page (counters come by server-sent events).
        await page.WaitForFunctionAsync("() => Number(document.querySelector(\"tr[data-vm='web-spin'] td.exits\")?.textContent) > 0");
        long first = long.Parse(await spin.Locator("td.exits").InnerTextAsync(), CultureInfo.InvariantCulture);
        await page.WaitForFunctionAsync("before => Number(document.querySelector(\"tr[data-vm='web-spin'] td.exits\")?.textContent) > before", first);
        long later = long.Parse(await spin.Locator("td.exits").InnerTextAsync(), CultureInfo.InvariantCulture);
        Assert.True(later > first, $"the exit counter went from {first} to {later}");

        // The console tail of the guest that printed and ended.
        await page.Locator("#vms tr[data-vm='web-hello'] button[data-action='console']").ClickAsync();
        await Assertions.Expect(page.Locator("#console")).ToContainTextAsync("Hello");
        await Assertions.Expect(page.Locator("#console")).ToContainTextAsync("console ended");

        await page.ScreenshotAsync(new PageScreenshotOptions { Path = ArtifactPath("web-view.png"), FullPage = true });

        // Buttons follow the state; the stop button stops the VM, as the API says.
        await Assertions.Expect(spin.Locator("button[data-action='start']")).ToBeDisabledAsync();
        await Assertions.Expect(spin.Locator("button[data-action='pause']")).ToBeEnabledAsync();
        await spin.Locator("button[data-action='stop']").ClickAsync();
        await Eventually.HoldsAsync(async () => await StatusOf("web-spin") is var s && s == "Stopped" ? null : $"web-spin is {s}", WebNode.Patience);
        await Assertions.Expect(spin.Locator("td.state")).ToHaveTextAsync("Stopped");
        Assert.Equal("Created", await StatusOf("web-idle"));

        // And the start button starts one.
        await page.Locator("#vms tr[data-vm='web-idle'] button[data-action='start']").ClickAsync();
        await Eventually.HoldsAsync(async () => await StatusOf("web-idle") is var s && s == "Running" ? null : $"web-idle is {s}", WebNode.Patience);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = ArtifactPath("web-view-after-stop.png"), FullPage = true });

        // The token survives a reload (sessionStorage), and the page raised no script error.
        await page.ReloadAsync();
        await Assertions.Expect(page.Locator("#vms tr[data-vm='web-idle'] td.state")).ToHaveTextAsync("Running");
        Assert.Empty(pageErrors);

        foreach (var vm in new[] { "web-spin", "web-idle", "web-hello" })
            Assert.Equal(HttpStatusCode.OK, (await Node.Send(HttpMethod.Post, $"/api/v1/vms/{vm}/destroy")).Status);
    }
}
