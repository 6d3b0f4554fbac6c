using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using WebApi;

namespace MLNetBackprop.WebApi.Tests;

/// <summary>The sample app on a real Kestrel server at a free port of 127.0.0.1, with an HTTP client for it.</summary>
public sealed class ServedApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ServedApp(WebApplication app, Uri address)
    {
        _app = app;
        Client = new HttpClient { BaseAddress = address };
    }

    public HttpClient Client { get; }

    /// <summary>Starts the app with the model file <paramref name="modelPath"/> (trained and saved there if missing).</summary>
    public static async Task<ServedApp> StartAsync(string modelPath)
    {
        var app = PredictionApi.Create(
        [
            "--urls", "http://127.0.0.1:0", "--ModelPath", modelPath, "--ReloadOnChange", "false",
            "--Logging:LogLevel:Default", "Warning",
        ]);
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        return new ServedApp(app, new Uri(addresses.Single()));
    }

    /// <summary>Posts <paramref name="houses"/> to /predict and reads the predicted values.</summary>
    public async Task<float[]> PredictAsync(IEnumerable<House> houses)
    {
        using var response = await Client.PostAsJsonAsync("/predict", houses);
        Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var predictions = await response.Content.ReadFromJsonAsync<JsonElement>();
        return [.. predictions.EnumerateArray().Select(p => p.GetProperty("medianHomeValue").GetSingle())];
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
