"""Azure Functions entry points. `record_event` receives every subscribed Event Grid event."""

import azure.functions as func

from eventaudit.events import from_trigger, require_faithful
from eventaudit.http_api import bp
from eventaudit.ingest import ingest
from eventaudit.settings import capture_schedule, current_settings
from eventaudit.storage import get_store

app = func.FunctionApp()
app.register_functions(bp)


# Subscribe it as <function app resource id>/functions/record_event.
@app.function_name(name="record_event")
@app.event_grid_trigger(arg_name="event")
def record_event(event: func.EventGridEvent) -> None:
    # With azure-functions >= 1.25 a CloudEvents delivery arrives as func.CloudEvent, whatever
    # the annotation says; from_trigger accepts both. An older decoder loses a CloudEvent's type,
    # source and time: require_faithful raises then, so Event Grid redelivers the original.
    ingest(require_faithful(from_trigger(event)), get_store(), current_settings().allowed_sources)


# Values of App Configuration changes, from the stores' revisions (docs/values.md). A timer, so that
# one pass coalesces every pending change of a store into a few page reads within its request budget;
# the Functions host runs one pass at a time across instances (a blob lease in AzureWebJobsStorage).
@app.function_name(name="capture_values")
@app.timer_trigger(arg_name="timer", schedule=capture_schedule(), run_on_startup=False, use_monitor=True)
def capture_values(timer: func.TimerRequest) -> None:
    from eventaudit.appconfig.capture import run_pass  # loaded by the first pass, not by the event path

    run_pass(get_store())
