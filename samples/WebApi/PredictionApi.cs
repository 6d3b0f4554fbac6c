using System.Text.Json;
using Microsoft.ML;
using MLNetBackprop;
using MLNetBackprop.DependencyInjection;

namespace WebApi;

/// <summary>One answer of <c>POST /predict</c>, in the order of the posted houses.</summary>
/// <param name="MedianHomeValue">The predicted median home value, in thousands of dollars.</param>
public sealed record PricePrediction(float MedianHomeValue);

/// <summary>
/// The web API: the pooled prediction service of MLNetBackprop.DependencyInjection over a saved pipeline, behind
/// <c>POST /predict</c> (a JSON array of houses in, a JSON array of predictions out) and <c>GET /health</c>.
/// </summary>
/// <remarks>
/// Configuration (appsettings.json, environment variables, or <c>--Key value</c> on the command line):
/// <c>ModelPath</c> (default <c>output/housing-model.zip</c>, relative to the program's folder; when the file does not
/// exist, a model is trained on the bundled housing data with the <c>Backprop:Housing</c> options and saved there first),
/// <c>ReloadOnChange</c> (default true: a new file at that path is loaded and swapped in while serving), and ASP.NET
/// Core's own settings such as <c>--urls</c>.
/// </remarks>
public static class PredictionApi
{
    /// <summary>The trainer options' name in the configuration (<c>Backprop:Housing</c>).</summary>
    public const string OptionsName = "housing";

    /// <summary>Builds the application: trains and saves a model if there is none, loads it, maps the endpoints.</summary>
    /// <exception cref="InvalidDataException">The model file exists but cannot be loaded (corrupt, changed, foreign).</exception>
    public static WebApplication Create(string[] args)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = 1 << 20); // 1,000 houses are about 300 KB
        string modelPath = Path.GetFullPath(builder.Configuration["ModelPath"] ?? "output/housing-model.zip", AppContext.BaseDirectory);
        builder.Services
            .AddBackprop(OptionsName, builder.Configuration.GetSection("Backprop:Housing"))
            .WithMLContextSeed(0)
            .AddPredictionService<House, HousePrice>(modelPath, reloadOnChange: builder.Configuration.GetValue("ReloadOnChange", true));

        var app = builder.Build();
        if (!File.Exists(modelPath)) TrainAndSave(app.Services, modelPath, app.Logger);
        // Load now, so that a bad model file stops the start rather than the first request.
        var service = app.Services.GetRequiredService<IBackpropPredictionService<House, HousePrice>>();
        app.Logger.LogInformation("Serving the model {Path} (version {Version}).", modelPath, service.ModelVersion);

        app.MapGet("/health", (IBackpropPredictionService<House, HousePrice> s) => Results.Ok(new { Status = "healthy", s.ModelVersion }));
        app.MapPost("/predict", PredictAsync);
        return app;
    }

    /// <summary>Trains the pipeline on the bundled housing data with the registered options and saves it.</summary>
    private static void TrainAndSave(IServiceProvider services, string modelPath, ILogger logger)
    {
        var ml = services.GetRequiredService<MLContext>();
        var trainer = services.GetRequiredService<IBackpropTrainerFactory>().CreateTrainer(OptionsName);
        var data = HousingModel.Load(ml, Path.Combine(AppContext.BaseDirectory, "data", "housing.txt"));
        var model = HousingModel.Train(ml, data, trainer);
        Directory.CreateDirectory(Path.GetDirectoryName(modelPath)!);
        ml.Backprop().SaveModel(model, data.Schema, modelPath);
        logger.LogInformation("No model at {Path}: trained one on the bundled housing data and saved it there.", modelPath);
    }

    private static async Task<IResult> PredictAsync(HttpRequest request, IBackpropPredictionService<House, HousePrice> service)
    {
        if (!request.HasJsonContentType())
            return Results.Problem($"The body must be JSON (Content-Type: application/json); got '{request.ContentType ?? "none"}'.",
                statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type");
        JsonDocument document;
        try
        {
            document = await JsonDocument.ParseAsync(request.Body, cancellationToken: request.HttpContext.RequestAborted);
        }
        catch (JsonException e)
        {
            return BadRequest($"The body is not valid JSON: {e.Message}");
        }
        catch (BadHttpRequestException e) // e.g. larger than the 1 MiB limit
        {
            return Results.Problem(e.Message, statusCode: e.StatusCode,
                title: e.StatusCode == StatusCodes.Status413PayloadTooLarge ? "Request body too large" : "Bad request");
        }
        using (document)
        {
            if (!HouseJson.TryRead(document.RootElement, out var houses, out string error)) return BadRequest(error);
            var predictions = new PricePrediction[houses.Length];
            for (int i = 0; i < houses.Length; i++) predictions[i] = new PricePrediction(service.Predict(houses[i]).Score);
            return Results.Ok(predictions);
        }
    }

    private static IResult BadRequest(string detail) =>
        Results.Problem(detail, statusCode: StatusCodes.Status400BadRequest, title: "Bad request");
}
