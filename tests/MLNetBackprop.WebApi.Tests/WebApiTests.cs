using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.ML;
using MLNetBackprop;
using WebApi;

namespace MLNetBackprop.WebApi.Tests;

/// <summary>
/// The WebApi sample over HTTP on a real Kestrel server: its predictions are the in-memory model's, bit for bit, and bad
/// requests get a 400 problem that names the row and the field.
/// </summary>
public sealed class WebApiTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetbackprop-webapi-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string HousingPath => Path.Combine(AppContext.BaseDirectory, "data", "housing.txt");

    private static List<House> Houses(MLContext ml, IDataView data) => ml.Data.CreateEnumerable<House>(data, reuseRowObject: false).ToList();

    [Fact]
    public async Task PostedHouses_GetTheInMemoryModelsPredictions()
    {
        var ml = new MLContext(seed: 0);
        var data = HousingModel.Load(ml, HousingPath);
        var model = HousingModel.Train(ml, data, ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [16], MaxEpochs = 60, L2Regularization = 1e-3 }));
        string path = Path.Combine(_dir, "housing.zip");
        ml.Backprop().SaveModel(model, data.Schema, path);

        var houses = Houses(ml, data);
        House[] posted = [houses[0], houses[7], houses[505]];
        using var engine = ml.Model.CreatePredictionEngine<House, HousePrice>(model);
        float[] expected = [.. posted.Select(h => engine.Predict(h).Score)];

        await using var served = await ServedApp.StartAsync(path);
        float[] actual = await served.PredictAsync(posted);

        Assert.Equal(expected, actual); // exact: the service loads our own transformer, and JSON round-trips a float
        // A real model, not a constant: the three houses (24.0, 27.1 and 11.9 in the data) get different values.
        Assert.Equal(3, actual.Distinct().Count());
        Assert.InRange(actual[0] - actual[2], 5f, 25f);
    }

    [Fact]
    public async Task WithoutAModelFile_TrainsOneOnTheBundledDataSavesItAndServesIt()
    {
        string path = Path.Combine(_dir, "new", "model.zip");
        await using var served = await ServedApp.StartAsync(path);

        Assert.True(File.Exists(path));
        var health = await served.Client.GetFromJsonAsync<JsonElement>("/health");
        Assert.Equal("healthy", health.GetProperty("status").GetString());
        Assert.Equal(1, health.GetProperty("modelVersion").GetInt32());

        var ml = new MLContext(seed: 0);
        var houses = Houses(ml, HousingModel.Load(ml, HousingPath));
        var saved = ml.Backprop().LoadModel(path, out _);
        using var engine = ml.Model.CreatePredictionEngine<House, HousePrice>(saved);
        House[] posted = [.. houses.Where((_, i) => i % 50 == 0)];
        Assert.Equal(posted.Select(h => engine.Predict(h).Score), await served.PredictAsync(posted));
    }
}

/// <summary>One server over a small model for the bad-request tests, which only read from it; its own temp folder.</summary>
public sealed class SmallModelServer : IAsyncLifetime
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mlnetbackprop-webapi-").FullName;

    public ServedApp App { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var ml = new MLContext(seed: 0);
        var data = HousingModel.Load(ml, Path.Combine(AppContext.BaseDirectory, "data", "housing.txt"));
        var model = HousingModel.Train(ml, data, ml.Regression.Trainers.Backprop(new BackpropTrainerOptions { HiddenLayers = [4], MaxEpochs = 5, L2Regularization = 1e-3 }));
        string path = Path.Combine(_dir, "small.zip");
        ml.Backprop().SaveModel(model, data.Schema, path);
        App = await ServedApp.StartAsync(path);
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }
}

/// <summary>Bad requests to POST /predict get a problem (RFC 9110 problem details) whose detail names the row and field.</summary>
public sealed class BadRequestTests(SmallModelServer server) : IClassFixture<SmallModelServer>
{
    public static TheoryData<string, string, HttpStatusCode, string> BadBodies => new()
    {
        { "missing field", """[{"CrimesPerCapita": 0.1}]""", HttpStatusCode.BadRequest, "Row 0: missing fields 'PercentResidental', 'PercentNonRetail'" },
        { "string value", Row(1, "\"TaxRate\": \"296\""), HttpStatusCode.BadRequest, "Row 1: the field 'TaxRate' must be a number; got a JSON string." },
        { "unknown field", Row(0, "\"Rooms\": 6"), HttpStatusCode.BadRequest, "Row 0: unknown field 'Rooms'; the fields are CrimesPerCapita," },
        { "beyond float", Row(0, "\"TaxRate\": 1e39"), HttpStatusCode.BadRequest, "Row 0: the field 'TaxRate' = 1e39 is outside the range of a 32-bit float." },
        { "twice", Row(0, "\"taxrate\": 1"), HttpStatusCode.BadRequest, "Row 0: the field 'TaxRate' is given twice." },
        { "not JSON", """[{"CrimesPerCapita": 0.1,""", HttpStatusCode.BadRequest, "The body is not valid JSON:" },
        { "object", """{"CrimesPerCapita": 0.1}""", HttpStatusCode.BadRequest, "The body must be a JSON array of houses" },
        { "empty", "[]", HttpStatusCode.BadRequest, "The body is an empty array" },
        { "row not an object", "[[1, 2]]", HttpStatusCode.BadRequest, "Row 0: expected a JSON object with the fields" },
        { "too many rows", Rows(HouseJson.MaxRows + 1), HttpStatusCode.BadRequest, "The body holds 1,001 houses; at most 1,000 are accepted per request." },
        { "over 1 MiB", Rows(HouseJson.MaxRows).PadRight(1 << 20 | 1), HttpStatusCode.RequestEntityTooLarge, "Request body too large. The max request body size is 1048576 bytes." },
    };

    private static string Rows(int count) => "[" + string.Join(", ", Enumerable.Repeat(Row(0, "\"TaxRate\": 296")[1..^1], count)) + "]";

    /// <summary>A body of <paramref name="index"/> + 1 valid houses, the last with <paramref name="extra"/> added (or replacing its field of that name).</summary>
    private static string Row(int index, string extra)
    {
        var rows = new List<string>();
        for (int r = 0; r <= index; r++)
        {
            var fields = House.Fields.Select((f, i) => $"\"{f.Name}\": {i + 1}").ToList();
            if (r == index)
            {
                string name = extra[1..extra.IndexOf('"', 1)];
                int at = fields.FindIndex(f => f.StartsWith($"\"{name}\"", StringComparison.Ordinal));
                if (at >= 0) fields[at] = extra; else fields.Add(extra);
            }
            rows.Add("{" + string.Join(", ", fields) + "}");
        }
        return "[" + string.Join(", ", rows) + "]";
    }

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task BadRequest_GetsAProblemThatSaysWhatIsWrong(string what, string body, HttpStatusCode status, string detail)
    {
        _ = what;
        using var response = await server.App.Client.PostAsync("/predict", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.StartsWith(detail, problem.GetProperty("detail").GetString());
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task ABodyThatIsNotJson_Gets415AndAValidBodyAfterwardsStillWorks()
    {
        using var response = await server.App.Client.PostAsync("/predict", new StringContent("1,2,3", Encoding.UTF8, "text/csv"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("The body must be JSON (Content-Type: application/json); got 'text/csv; charset=utf-8'.", problem.GetProperty("detail").GetString());

        using var ok = await server.App.Client.PostAsync("/predict", new StringContent(Row(0, "\"TaxRate\": 296"), Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }
}
