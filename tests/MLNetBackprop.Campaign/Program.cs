using System.Diagnostics;
using MLNetBackprop.Campaign;
using MLNetBackprop.Campaign.Categories;

// The standing reliability campaign (issue #13). The parent runs each category in a child process of this same
// executable (--child name) and counts what the child reports; a child that dies or stops answering is a crash or a
// hang of the trial it was running, and a new child goes on from the next trial.
//
//     dotnet run -c Release --project tests/MLNetBackprop.Campaign -- [--seed N] [--quick] [--out file.md]
//         [--only fit,predict,files,kill,serving,cancel] [--timeout seconds] [--verbose] [--keep]
//
// Exit code 0 when the library's own paths had no crash, no hang and no silently wrong result, 1 otherwise, 2 for a
// bad command line.
CampaignOptions options;
try
{
    options = CampaignOptions.Parse(args);
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine(e.Message);
    Console.Error.WriteLine(CampaignOptions.Usage);
    return 2;
}

if (options.Child == KillDuringSave.SaveLoopName) return KillDuringSave.SaveLoop(options);
if (options.Child is not null) return ChildHost.Run(options);

var clock = Stopwatch.StartNew();
string work = Path.Combine(Path.GetTempPath(), $"mlnetbackprop-campaign-{Guid.NewGuid():N}");
Directory.CreateDirectory(work);
var results = new List<CategoryResult>();
foreach (var category in Category.All.Where(c => options.Only is null || options.Only.Contains(c.Name)))
{
    Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {category.Name}: {category.Title}");
    var result = ChildRunner.Run(category, options, work);
    Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {category.Name}: {result.Counts.Values.Sum():N0} trials in {result.Elapsed.TotalSeconds:F0} s.");
    results.Add(result);
}

string report = Report.Render(results, options, clock.Elapsed);
Console.WriteLine(report);
if (options.Out is { } outPath) File.WriteAllText(outPath, report);
long failures = Report.Failures(results);
if (failures == 0 && !options.Keep)
{
    Directory.Delete(work, recursive: true);
}
else
{
    Console.Error.WriteLine($"Each category's child log, trial results (trials.jsonl) and last files are in {work}.");
}
return failures == 0 ? 0 : 1;
