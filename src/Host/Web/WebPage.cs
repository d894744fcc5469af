using System.Reflection;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Actorvisor.Host.Web;

/// <summary>
/// The node's web view: owns the page's files (plain HTML, JavaScript and CSS, embedded in the executable from
/// Web/Page) and serves them at <c>/</c>, <c>/app.js</c> and <c>/app.css</c>, open: the page holds no data; it asks the
/// HTTP API (<see cref="HttpApiV1"/>) with the token the person types, kept in the tab's sessionStorage.
/// </summary>
public static class WebPage
{
    /// <summary>The page's files: URL path, resource name, media type.</summary>
    public static readonly IReadOnlyList<(string Path, string Resource, string MediaType)> Files =
    [
        ("/", "page/index.html", "text/html; charset=utf-8"),
        ("/app.js", "page/app.js", "text/javascript; charset=utf-8"),
        ("/app.css", "page/app.css", "text/css; charset=utf-8"),
    ];

    // Only the page's own files and API; no inline script or style, no framing.
    private const string ContentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>Maps the page's files on <paramref name="app"/>.</summary>
    public static void Map(IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        foreach (var (path, resource, mediaType) in Files)
        {
            var bytes = Read(resource);
            app.MapGet(path, (HttpContext c) =>
            {
                var headers = c.Response.Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.CacheControl = "no-cache";
                headers["Referrer-Policy"] = "no-referrer";
                return Results.Bytes(bytes, mediaType);
            });
        }
    }

    private static byte[] Read(string resource)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the page file {resource} is not embedded in {Assembly.GetExecutingAssembly().GetName().Name}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }
}
