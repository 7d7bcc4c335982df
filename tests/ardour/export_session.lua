-- Runs the Counterpart VST3 inside headless Ardour 7 (ardour7-lua) and exports the master bus.
-- Driven by tests/tests/ardour_vst3.rs, which reads the "CP <key> <value>" lines it prints.
--
-- Environment:
--   CP_DIR    a scratch folder (the session goes to CP_DIR/cp_<mode>, the export to CP_DIR/out)
--   CP_GUIDE  the guide: a mono 32-bit float WAV at 48 kHz
--   CP_MODE   "aligned" or "live": the plugin's Look-ahead
--   CP_LATENCY the latency (samples) the plugin reports in Aligned mode at activation
--   CP_TAIL   seconds of silence exported after the guide
--   CP_EXPORTS the names of the exports to make in a row (default "master")
--
-- Ardour 7.3 headless, what this script works around (see also the exports, below):
--   * it only reads the plugin cache: the caller runs ardour-vst3-scanner first;
--   * no Lua binding imports audio: the script writes the guide's sources, region, playlist and
--     session range into the session XML, and loads the session again;
--   * the track's connection to the master bus is made asynchronously: it is checked and made;
--   * every Lua reference to a session object is dropped (and collected) before the session
--     closes, or Ardour crashes.

local DIR = assert (os.getenv ("CP_DIR"), "CP_DIR")
local GUIDE = assert (os.getenv ("CP_GUIDE"), "CP_GUIDE")
local MODE = assert (os.getenv ("CP_MODE"), "CP_MODE")
local LATENCY = tonumber ((assert (os.getenv ("CP_LATENCY"), "CP_LATENCY")))
local TAIL_S = tonumber (os.getenv ("CP_TAIL") or "2")
-- The exports to make, one after the other (CP_EXPORTS, space-separated names).
local EXPORTS = {}
for name in (os.getenv ("CP_EXPORTS") or "master"):gmatch ("%S+") do table.insert (EXPORTS, name) end
local RATE = 48000
local SUPERCLOCK_PER_SAMPLE = 282240000 // RATE
local NAME = "cp_" .. MODE
local SESSION = DIR .. "/" .. NAME  -- Ardour keeps sources under interchange/<folder name>
local PRESET = "b3d5c0de-7e57-4c0a-8d1e-5e55a0c0f001"

local function report (key, value) print ("CP " .. key .. " " .. tostring (value)) end

local function slurp (path)
	local f = assert (io.open (path, "rb")); local d = f:read ("a"); f:close (); return d
end
local function spit (path, data)
	local f = assert (io.open (path, "wb")); f:write (data); f:close ()
end
local function replace_once (s, old, new)
	local i, j = s:find (old, 1, true)
	assert (i, "session XML: not found: " .. old)
	return s:sub (1, i - 1) .. new .. s:sub (j + 1)
end
-- Adds `body` inside <tag>...</tag> (or an empty <tag/>).
local function append_to (s, tag, body)
	if s:find ("<" .. tag .. "/>", 1, true) then
		return replace_once (s, "<" .. tag .. "/>", "<" .. tag .. ">\n" .. body .. "</" .. tag .. ">")
	end
	return replace_once (s, "</" .. tag .. ">", body .. "</" .. tag .. ">")
end
local function frames_of (wav)
	local h = io.popen ("soxi -s '" .. wav .. "'"); local n = tonumber (h:read ("a")); h:close ()
	return assert (n, "soxi failed on " .. wav)
end

-- An export format: 32-bit float WAV at the session rate, named after the time span.
local home = assert (os.getenv ("HOME"))
os.execute ("mkdir -p '" .. home .. "/.config/ardour7/export' '" .. DIR .. "/out'")
spit (home .. "/.config/ardour7/export/counterpart-test.preset", [[
<?xml version="1.0" encoding="UTF-8"?>
<ExportPreset id="]] .. PRESET .. [[" name="Counterpart test">
  <ExportFormat id="20b4ab09-6452-4cb3-bd66-b921cdbd2942"/>
  <ExportFilename>
    <Folder relative="1" path="export"/>
    <Field name="label" enabled="0"/>
    <Field name="session" enabled="0"/>
    <Field name="snapshot" enabled="0"/>
    <Field name="timespan" enabled="1"/>
    <Field name="revision" enabled="0"/>
    <Field name="time" enabled="0" value="T_None"/>
    <Field name="date" enabled="0" value="D_None"/>
  </ExportFilename>
</ExportPreset>
]])

-- 1. An empty session with one stereo track.
AudioEngine:set_backend ("None (Dummy)", "", "")
os.execute ("rm -rf '" .. SESSION .. "'")
local s = assert (create_session (SESSION, NAME, RATE), "create_session failed")
report ("block", s:get_block_size ())
assert (s:new_audio_track (2, 2, nil, 1, "Guide", ARDOUR.PresentationInfo.max_order,
	ARDOUR.TrackMode.Normal, true):size () == 1)
s:save_state ("", false, false, false, false, false)
collectgarbage ()
close_session ()
s = nil
collectgarbage ()

-- 2. The guide on both channels of a region at 0, through the session XML.
local guide_frames = frames_of (GUIDE)
local end_frames = guide_frames + math.floor (TAIL_S * RATE)
report ("guide_frames", guide_frames)
local audio = SESSION .. "/interchange/" .. NAME .. "/audiofiles"
assert (os.execute ("mkdir -p '" .. audio .. "' && cp '" .. GUIDE .. "' '" .. audio .. "/guide-L.wav' && cp '"
	.. GUIDE .. "' '" .. audio .. "/guide-R.wav'"), "cannot copy the guide into the session")
local xml_path = SESSION .. "/" .. NAME .. ".ardour"
local x = slurp (xml_path)
local playlist = assert (x:match ('<Route [^>]-name="Guide"[^>]-audio%-playlist="(%d+)"'), "no playlist")
local length = "a" .. (guide_frames * SUPERCLOCK_PER_SAMPLE)
local region = 'muted="0" opaque="1" locked="0" video-locked="0" automatic="0" import="1" external="0" '
	.. 'sync-marked="0" left-of-split="0" right-of-split="0" hidden="0" position-locked="0" '
	.. 'valid-transients="0" start="a0" length="' .. length .. '@a0" sync-position="a0" '
	.. 'ancestral-start="a0" ancestral-length="a0@a0" stretch="1" shift="1" layering-index="0" '
	.. 'tags="" contents="0" envelope-active="0" default-fade-in="0" default-fade-out="0" '
	.. 'fade-in-active="1" fade-out-active="1" scale-amplitude="1" type="audio" '
	.. 'first-edit="nothing" source-0="9100001" source-1="9100002" master-source-0="9100001" '
	.. 'master-source-1="9100002" channels="2"'
x = append_to (x, "Sources",
	'<Source name="guide-L.wav" type="audio" flags="" id="9100001" natural-position="a0" channel="0" origin="" gain="1"/>\n'
	.. '<Source name="guide-R.wav" type="audio" flags="" id="9100002" natural-position="a0" channel="0" origin="" gain="1"/>\n')
x = append_to (x, "Regions", '<Region name="guide" whole-file="1" id="9100003" ' .. region .. '/>\n')
x = append_to (x, "Locations", '<Location id="9100005" name="session" start="a0" end="a'
	.. (end_frames * SUPERCLOCK_PER_SAMPLE) .. '" flags="IsSessionRange" locked="0" timestamp="0" cue="0"/>\n')
local open_tag = assert (x:match ('<Playlist id="' .. playlist .. '"[^>]*>'), "no playlist element")
local in_playlist = '<Region name="guide.1" whole-file="0" id="9100004" ' .. region .. '/>\n'
if open_tag:sub (-2) == "/>" then
	x = replace_once (x, open_tag, open_tag:sub (1, -3) .. ">\n" .. in_playlist .. "</Playlist>")
else
	x = replace_once (x, open_tag, open_tag .. "\n" .. in_playlist)
end
spit (xml_path, x)

-- 3. Load it again, connect the track to the master bus, insert the plugin.
s = assert (load_session (SESSION, NAME), "load_session failed")
local track = s:route_by_name ("Guide"):to_track ()
assert (not track:isnil ())
do
	local master_in = s:master_out ():input ()
	for c = 0, 1 do
		local port = track:output ():audio (c)
		local master = master_in:audio (c):name ()
		if not port:connected_to (master) then AudioEngine:connect (port:name (), master) end
		assert (port:connected_to (master), "the Guide track is not connected to the master bus")
	end
end

local info = ARDOUR.LuaAPI.new_plugin_info ("Counterpart", ARDOUR.PluginType.VST3)
assert (not info:isnil (), "Counterpart VST3 not found: run ardour-vst3-scanner first")
report ("plugin_name", info.name)
report ("plugin_inputs", info.n_inputs:n_audio ())
report ("plugin_outputs", info.n_outputs:n_audio ())
local proc = ARDOUR.LuaAPI.new_plugin (s, "Counterpart", ARDOUR.PluginType.VST3, "")
assert (not proc:isnil (), "new_plugin failed")
local insert = proc:to_insert ()
local plugin = insert:plugin (0)
local params = {}
for i = 0, plugin:parameter_count () - 1 do
	local label = plugin:parameter_label (i)
	params[label] = i
	report ("param", label)
end
report ("param_count", plugin:parameter_count ())
-- The look-ahead is set before the plugin is added and activated: the plugin reports its
-- latency at activation, and a change while active needs a restart of the plugin
-- (restartComponent with kLatencyChanged), which headless Ardour 7 does not do.
if MODE == "live" then
	ARDOUR.LuaAPI.set_processor_param (proc, assert (params["Look-ahead"]), 0)
end
assert (track:add_processor_by_index (proc, 0, nil, true) == 0, "add_processor_by_index failed")

local function wait_for_latency (target)
	for _ = 1, 240 do
		if insert:signal_latency () == target then return true end
		sleep (0.5)
	end
	return false
end
local expected = MODE == "live" and 0 or LATENCY
assert (wait_for_latency (expected), "latency " .. insert:signal_latency () .. ", not " .. expected)
-- Let the engine load and play.
sleep (3)
report ("latency", insert:signal_latency ())
report ("lookahead", ARDOUR.LuaAPI.get_processor_param (proc, params["Look-ahead"], true))
report ("dry_wet", ARDOUR.LuaAPI.get_processor_param (proc, params["Dry/Wet"], true))
report ("seed", ARDOUR.LuaAPI.get_processor_param (proc, params["Seed"], true))
s:save_state ("", false, false, false, false, false)

-- 4. Export the master bus over the session range (freewheeling, faster than real time),
-- twice: Ardour deactivates and re-activates the plugin after an export, and the second export
-- must be as complete as the first.
-- Ardour 7.3 frees an export's port channels twice when its SimpleExport is garbage-collected
-- (a heap-corruption abort in ~PortExportChannel): the exports are kept referenced, and the
-- script ends with os.exit, before Lua collects them.
local exports = {}
for _, name in ipairs (EXPORTS) do
	local export = s:simple_export ()
	table.insert (exports, export)
	assert (export:set_preset (PRESET), "export preset")
	export:set_folder (DIR .. "/out")
	export:set_range (0, end_frames)
	export:set_name (name)
	assert (export:check_outputs (), "export outputs")
	report ("export_ok", export:run_export ())
	report ("export_" .. name, DIR .. "/out/" .. name .. ".wav")
end
report ("latency_after", insert:signal_latency ())
report ("done", MODE)
io.stdout:flush ()
os.exit (0)
