// The login page: posts the token once to /api/v1/session, which keeps it in an HttpOnly cookie (no script reads it
// afterwards), then goes back to the page that sent us here.
const form = document.getElementById('login');
const error = document.getElementById('login-error');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  error.hidden = true;
  const input = document.getElementById('token');
  const res = await fetch('/api/v1/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    credentials: 'same-origin',
    body: JSON.stringify({ token: input.value }),
  });
  input.value = '';
  if (!res.ok) {
    error.textContent = res.status === 401 ? 'Unknown token.' : `Login failed (HTTP ${res.status}).`;
    error.hidden = false;
    return;
  }
  location.assign(`/${location.hash || '#/overview'}`);
});
